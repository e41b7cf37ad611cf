/**
 * An ethers Signer whose key stays in the identity actor: every signature is a bus request
 * (identity.ethSignTransaction / ethSignMessage), so the naming process never holds a private key.
 */
import { type Bus, type EthTx, identityEthSignMessage, identityEthSignTransaction, identityStatus } from '@baran/bus'
import {
  AbstractSigner,
  copyRequest,
  getAddress,
  hexlify,
  type Provider,
  resolveAddress,
  toUtf8String,
  Transaction,
  type TransactionRequest,
  type TypedDataDomain,
  type TypedDataField,
} from 'ethers'
import { NoAccountError, SignerError } from './lib/errors.ts'

export interface BusSignerInit {
  /** Bound on each request to the identity actor. @default 10000 */
  timeoutMs?: number
}

const big = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : BigInt(v as bigint).toString())

export class BusSigner extends AbstractSigner {
  readonly #bus: Bus
  readonly #init: BusSignerInit
  // The account's Ethereum address never changes once it exists: ask once.
  #address: string | undefined

  constructor(bus: Bus, provider: Provider | null = null, init: BusSignerInit = {}) {
    super(provider)
    this.#bus = bus
    this.#init = init
  }

  connect(provider: Provider | null): BusSigner {
    return new BusSigner(this.#bus, provider, this.#init)
  }

  async getAddress(): Promise<string> {
    if (this.#address) return this.#address
    const status = await this.#bus.request(identityStatus, {}, this.#opts())
    if (!status.account) throw new NoAccountError()
    this.#address = getAddress(status.account.ethAddress)
    return this.#address
  }

  async signTransaction(request: TransactionRequest): Promise<string> {
    const tx = copyRequest(request)
    const me = await this.getAddress()
    if (tx.from != null && getAddress(await resolveAddress(tx.from, this)) !== me) {
      throw new SignerError('transaction from address is not the account')
    }
    if (tx.nonce == null || tx.gasLimit == null || tx.chainId == null) {
      throw new SignerError('populate the transaction (nonce, gasLimit, chainId) before signing it')
    }
    if (tx.type != null && (tx.type < 0 || tx.type > 2)) throw new SignerError(`transaction type ${tx.type} cannot be signed over the bus`)
    const to = tx.to == null ? null : getAddress(await resolveAddress(tx.to, this))
    const wire: EthTx = {
      to,
      nonce: tx.nonce,
      gasLimit: big(tx.gasLimit)!,
      chainId: big(tx.chainId)!,
      ...(tx.data == null ? {} : { data: hexlify(tx.data) }),
      ...(tx.value == null ? {} : { value: big(tx.value)! }),
      ...(tx.type == null ? {} : { type: tx.type }),
      ...(tx.gasPrice == null ? {} : { gasPrice: big(tx.gasPrice)! }),
      ...(tx.maxFeePerGas == null ? {} : { maxFeePerGas: big(tx.maxFeePerGas)! }),
      ...(tx.maxPriorityFeePerGas == null ? {} : { maxPriorityFeePerGas: big(tx.maxPriorityFeePerGas)! }),
    }
    const { signed } = await this.#bus.request(identityEthSignTransaction, { tx: wire }, this.#opts())
    // Never broadcast something other than what was asked for, signed by someone else.
    const back = Transaction.from(signed)
    if (back.from !== me || back.nonce !== tx.nonce || back.to !== to) throw new SignerError('identity signed a different transaction')
    return signed
  }

  async signMessage(message: string | Uint8Array): Promise<string> {
    let text: string
    try {
      text = typeof message === 'string' ? message : toUtf8String(message)
    } catch (cause) {
      throw new SignerError('only UTF-8 messages can be signed over the bus', { cause })
    }
    const { signature, from } = await this.#bus.request(identityEthSignMessage, { message: text }, this.#opts())
    if (getAddress(from) !== (await this.getAddress())) throw new SignerError('identity signed with another key')
    return signature
  }

  async signTypedData(_domain: TypedDataDomain, _types: Record<string, TypedDataField[]>, _value: Record<string, unknown>): Promise<string> {
    throw new SignerError('typed data cannot be signed over the bus')
  }

  #opts(): { timeoutMs: number } {
    return { timeoutMs: this.#init.timeoutMs ?? 10_000 }
  }
}
