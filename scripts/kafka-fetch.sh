#!/usr/bin/env bash
# Fetch Apache Kafka (broker, KRaft) jars from Maven Central with Maven into a
# cache outside the repo, and print the directory holding them.
set -euo pipefail
KAFKA_VERSION="${REDDIT_STREAM_KAFKA_VERSION:-4.1.1}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/reddit-stream/kafka-$KAFKA_VERSION"
if [ ! -f "$CACHE/.complete" ]; then
  mkdir -p "$CACHE"
  cat > "$CACHE/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.reddit-stream</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.24.3</version></dependency>
  </dependencies>
</project>
POM
  (cd "$CACHE" && mvn -q -B dependency:copy-dependencies -DoutputDirectory=libs -DincludeScope=runtime >&2)
  touch "$CACHE/.complete"
fi
echo "$CACHE/libs"
