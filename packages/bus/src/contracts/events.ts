import type { EventContract } from '../lib/contract.ts'
import { discoveryAddressChanged, discoveryDeviceList, discoveryOffline, discoveryOnline, discoveryPublished } from './discovery.ts'
import { identityBlocksChanged } from './identity-blocks.ts'
import { identityAccountCreated, identityDeviceAdded, identityDeviceRevoked, identityDevicesChanged } from './identity.ts'
import { stateEventOf } from './lifecycle.ts'
import { namingRegistered, namingRegistration } from './naming.ts'
import { actorRestarted } from './node.ts'
import { outboxDelivery, outboxReceipt, outboxReceived } from './outbox.ts'
import { transportAddresses, transportConnection, transportRevoked } from './transport.ts'

/**
 * Every event of Baran's contracts: the supervisor lets a bus user subscribe only to those whose `readers` name
 * it. The lifecycle event stands for every actor's (`actor: '*'`).
 */
export const eventContracts: readonly EventContract[] = [
  stateEventOf('*'),
  actorRestarted,
  identityAccountCreated,
  identityDeviceAdded,
  identityDeviceRevoked,
  identityDevicesChanged,
  identityBlocksChanged,
  discoveryOnline,
  discoveryAddressChanged,
  discoveryOffline,
  discoveryPublished,
  discoveryDeviceList,
  namingRegistration,
  namingRegistered,
  outboxDelivery,
  outboxReceived,
  outboxReceipt,
  transportConnection,
  transportAddresses,
  transportRevoked,
]
