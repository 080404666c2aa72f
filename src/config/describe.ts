/** The resolved configuration as shown to the user (`reddit-stream config`): config-file keys, secrets masked. */
import type { Config } from './model.ts';

const mask = (v: string | undefined) => (v === undefined ? null : '****');

/** The resolved configuration for display, secrets masked. */
export function describeConfig(cfg: Config): Record<string, unknown> {
  return {
    subreddit: cfg.subreddits,
    kafka_host: cfg.kafkaBrokers.join(','),
    kafka_security_protocol: cfg.kafkaSecurityProtocol.toUpperCase(),
    ...(cfg.kafkaSecurityProtocol.startsWith('sasl') ? { kafka_sasl_mechanism: cfg.kafkaSaslMechanism } : {}),
    ...(cfg.kafkaSslCa ? { kafka_ssl_ca: cfg.kafkaSslCa } : {}),
    post_type: cfg.postType,
    debug: cfg.debug,
    processing_interval: cfg.processingInterval,
    batch_size: cfg.batchSize,
    max_batch_bytes: cfg.maxBatchBytes,
    max_message_bytes: cfg.maxMessageBytes,
    workers: cfg.workers ?? 'auto',
    encoder: cfg.encoder,
    table_root: cfg.tableRoot,
    group_id: cfg.groupId,
    auto_offset_reset: cfg.autoOffsetReset,
    unknown_fields: cfg.unknownFields,
    partition_by: cfg.partitionBy,
    // user:password in an endpoint URL is a secret too: everything up to the last @ (a secret may hold / or @)
    s3_endpoint: cfg.s3Endpoint ? cfg.s3Endpoint.replace(/^([a-z][a-z0-9+.-]*:\/\/).*@/i, '$1***@') : null,
    s3_region: cfg.s3Region,
    s3_path_style: cfg.s3PathStyle ?? Boolean(cfg.s3Endpoint),
    s3_unsafe_single_writer: cfg.s3UnsafeSingleWriter,
    spool_dir: cfg.spoolDir,
    spool_max_bytes: cfg.spoolMaxBytes,
    gc_every_bytes: cfg.gcEveryBytes,
    compact: cfg.compact,
    compact_min_files: cfg.compactMinFiles,
    compact_max_rewrite_bytes: cfg.compactMaxRewriteBytes,
    vacuum_every_hours: cfg.vacuumEveryHours,
    log_cleanup: cfg.logCleanup,
    metrics_address: cfg.metricsAddress,
    creds: {
      client_id: cfg.creds.clientId ?? null,
      secret_id: mask(cfg.creds.secretId),
      user: cfg.creds.user ?? null,
      password: mask(cfg.creds.password),
      aws_client: cfg.creds.awsClient ? `${cfg.creds.awsClient.slice(0, 4)}****` : null,
      aws_secret: mask(cfg.creds.awsSecret),
      kafka_user: cfg.creds.kafkaUser ?? null,
      kafka_password: mask(cfg.creds.kafkaPassword),
    },
  };
}
