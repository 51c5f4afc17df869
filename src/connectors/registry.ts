import type { AnyConnectorFactory } from '../core/connector-factory.ts';
import { ForceflowError } from '../core/errors.ts';
import { localFileConnector } from './local-file/index.ts';
import { s3Connector } from './s3/index.ts';
import { salesforceConnector } from './salesforce/index.ts';

/**
 * The connectors a flow may name, by connectorType. The flow schema (each connector's source and destination
 * properties, its task operators), validation (which types each side takes, the connector's own rules), the
 * compiler, the CLI's profile lookup and the runner all ask the registry; none of them branches on a type.
 * Adding a connector: its folder (DEVELOPERS.md, "Connectors") and one line in `defaultRegistry`.
 *
 * A registry is a plain immutable value: build one with `createRegistry` (tests, embedders with their own
 * connectors) or `defaultRegistry()`, and pass it down (compileFlow's and runFlow's `registry` option).
 */
export interface ConnectorRegistry {
  /** Every connector, in registration order (the order messages and the JSON Schema list them in). */
  readonly connectors: readonly AnyConnectorFactory[];
  /** The connector of a type, or undefined. */
  get(connectorType: string): AnyConnectorFactory | undefined;
  /** The connector of a type that can be this side of a flow; CONFIG_INVALID otherwise. */
  require(connectorType: string, side: 'source' | 'destination'): AnyConnectorFactory;
  /** The types that can be a flow's source (or destination). */
  types(side: 'source' | 'destination'): readonly string[];
}

export function createRegistry(factories: readonly AnyConnectorFactory[]): ConnectorRegistry {
  const byType = new Map<string, AnyConnectorFactory>();
  for (const f of factories) {
    if (byType.has(f.connectorType)) {
      throw new ForceflowError('CONFIG_INVALID', `Connector type ${f.connectorType} is registered twice. Register each connector once.`, { details: { connectorType: f.connectorType } });
    }
    if (f.capabilities.source !== (f.sourceProperties !== undefined && f.compileSource !== undefined && f.createSource !== undefined)
      || f.capabilities.destination !== (f.destinationProperties !== undefined && f.compileDestination !== undefined && f.createDestination !== undefined)) {
      throw new ForceflowError('CONFIG_INVALID', `Connector ${f.connectorType}: a side it can be needs its properties schema, compile and create functions, and a side it cannot be has none.`, { details: { connectorType: f.connectorType } });
    }
    byType.set(f.connectorType, f);
  }
  const connectors = Object.freeze([...factories]);
  const sides = {
    source: Object.freeze(connectors.filter((c) => c.capabilities.source).map((c) => c.connectorType)),
    destination: Object.freeze(connectors.filter((c) => c.capabilities.destination).map((c) => c.connectorType)),
  };
  return Object.freeze({
    connectors,
    get: (type: string) => byType.get(type),
    require(type: string, side: 'source' | 'destination') {
      const c = byType.get(type);
      if (!c || !c.capabilities[side]) {
        throw new ForceflowError('CONFIG_INVALID', `Connector type ${JSON.stringify(type)} cannot be a flow's ${side}. Use one of ${sides[side].join(', ')}.`, { details: { connectorType: type, side } });
      }
      return c;
    },
    types: (side: 'source' | 'destination') => sides[side],
  });
}

/** A fresh registry of forceflow's connectors. */
export function defaultRegistry(): ConnectorRegistry {
  return createRegistry([
    salesforceConnector(),
    s3Connector(),
    localFileConnector(),
  ]);
}
