/** How every Kafka client (consumer, producer, admin) connects: SASL and TLS from the configuration. */
import { ReddStreamError } from '../errors.ts';
import type { Config } from './model.ts';

/** Security options of every Kafka client (consumer, producer, admin) from the configuration. */
export interface KafkaConnection {
  sasl?: { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: string };
  /** TLS on: `{}` for the system's CAs, or the PEM of a CA file. */
  tls?: { ca?: string };
}

/** Kafka security settings valid one by one that do not fit together: SASL without credentials, a CA without TLS. */
export function kafkaSecurityProblems(cfg: Config): string[] {
  const problems: string[] = [];
  if (cfg.kafkaSecurityProtocol.startsWith('sasl') && (!cfg.creds.kafkaUser || !cfg.creds.kafkaPassword)) {
    problems.push(
      `kafka_security_protocol ${cfg.kafkaSecurityProtocol.toUpperCase()} needs kafka_user and kafka_password (in creds.json, or KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD)`,
    );
  }
  if (cfg.kafkaSslCa && !cfg.kafkaSecurityProtocol.endsWith('ssl')) {
    problems.push(
      `kafka_ssl_ca is set but kafka_security_protocol is ${cfg.kafkaSecurityProtocol.toUpperCase()} (use SSL or SASL_SSL)`,
    );
  }
  return problems;
}

export function kafkaConnection(cfg: Config, readFile: (path: string) => string): KafkaConnection {
  const out: KafkaConnection = {};
  if (cfg.kafkaSecurityProtocol.startsWith('sasl')) {
    out.sasl = {
      mechanism: cfg.kafkaSaslMechanism,
      username: cfg.creds.kafkaUser!,
      password: cfg.creds.kafkaPassword!,
    };
  }
  if (cfg.kafkaSecurityProtocol.endsWith('ssl')) {
    let ca: string | undefined;
    if (cfg.kafkaSslCa) {
      try {
        ca = readFile(cfg.kafkaSslCa);
      } catch (err) {
        throw new ReddStreamError(
          'CONFIG_INVALID',
          `kafka_ssl_ca: cannot read ${cfg.kafkaSslCa}: ${(err as Error).message}`,
        );
      }
    }
    out.tls = ca === undefined ? {} : { ca };
  }
  return out;
}
