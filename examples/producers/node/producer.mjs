// Writes OrderPlaced events for the orderflow workers with @platformatic/kafka (a
// Kafka client in plain JavaScript) and avsc.
//
// Without --registry-url every value is Avro single-object encoded: C3 01, the 8-byte
// CRC-64-AVRO fingerprint of the schema (little-endian), then the Avro datum. The
// workers find that fingerprint among the schemas of the repository's schemas/ folder:
// no schema registry is involved.
//
// With --registry-url the schema is registered under the subject <topic>-value and
// every value is framed the Confluent way: 00, the 4-byte schema id (big-endian), then
// the datum. Start the workers with the same --schema-registry-url.
//
// Each acknowledged event is printed as one line:
//   delivered order_id=... event_id=... partition=... offset=...

import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

import { Producer } from '@platformatic/kafka'
import avro from 'avsc'

// The contract is the .avsc file in the repository, never a copy of it.
const SCHEMA = new URL('../../../schemas/OrderEvent/v2.avsc', import.meta.url)

const { values: args } = parseArgs({
  options: {
    'bootstrap-servers': { type: 'string', default: '127.0.0.1:9092' },
    topic: { type: 'string', default: 'orders.lifecycle' },
    count: { type: 'string', default: '10' },
    'registry-url': { type: 'string' },
    schema: { type: 'string' }
  }
})

/** One OrderPlaced event that the order-validator accepts. */
function orderPlaced (source) {
  const lines = [
    { sku: 'SKU-1001', quantity: 2, unit_price: 1999 },
    { sku: 'SKU-2002', quantity: 1, unit_price: 4500 }
  ]
  const [shipping, tax, discount] = [495, 0, 0]
  const total = lines.reduce((sum, l) => sum + l.quantity * l.unit_price, 0) + shipping + tax - discount
  return {
    event_id: randomUUID(),
    order_id: `ord-${randomUUID()}`,
    customer_id: 'cus-42',
    occurred_at: Date.now(),
    source,
    // avsc wraps a union of records: the branch is named by the record's full name.
    payload: {
      'io.orderflow.events.OrderPlaced': {
        line_items: lines,
        currency: 'EUR',
        shipping,
        tax,
        discount,
        total,
        shipping_address: {
          recipient: 'Ada Lovelace',
          line1: 'Hauptstraße 1',
          line2: null,
          city: 'Berlin',
          postal_code: '10115',
          region: null,
          country: 'DE'
        },
        billing_country: 'DE',
        customer_email: 'ada@example.com',
        new_customer: false,
        sales_channel: 'WEB'
      }
    }
  }
}

/**
 * CRC-64-AVRO, the Rabin fingerprint of the Avro specification, of `text` (a schema's
 * Parsing Canonical Form). avsc computes only md5 and sha256 fingerprints.
 */
function crc64Avro (text) {
  const EMPTY = 0xc15d213aa4d7a795n
  const table = Array.from({ length: 256 }, (_, i) => {
    let fp = BigInt(i)
    for (let bit = 0; bit < 8; bit++) fp = (fp >> 1n) ^ (EMPTY & -(fp & 1n))
    return fp
  })
  let fp = EMPTY
  for (const byte of Buffer.from(text, 'utf8')) fp = (fp >> 8n) ^ table[Number((fp ^ BigInt(byte)) & 0xffn)]
  return fp
}

function singleObjectHeader (type) {
  const header = Buffer.alloc(10)
  header.set([0xc3, 0x01])
  // avsc's schema() is, without options, the schema's Parsing Canonical Form.
  header.writeBigUInt64LE(crc64Avro(JSON.stringify(type.schema())), 2)
  return header
}

/** Registers the schema under `<topic>-value` (or finds it there) and returns its id. */
async function registerSchema (registryUrl, topic, schemaText) {
  const url = `${registryUrl.replace(/\/+$/, '')}/subjects/${encodeURIComponent(`${topic}-value`)}/versions`
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ schema: schemaText })
  })
  if (!response.ok) throw new Error(`registering the schema at ${url}: ${response.status} ${await response.text()}`)
  return (await response.json()).id
}

function confluentHeader (schemaId) {
  const header = Buffer.alloc(5)
  header.writeUInt32BE(schemaId, 1)
  return header
}

const schemaText = readFileSync(args.schema ?? SCHEMA, 'utf8')
const type = avro.Type.forSchema(JSON.parse(schemaText), { wrapUnions: 'auto' })
const header = args['registry-url']
  ? confluentHeader(await registerSchema(args['registry-url'], args.topic, schemaText))
  : singleObjectHeader(type)

// Idempotence keeps retries from writing an event twice or out of order; it implies
// acks from every in-sync replica.
const producer = new Producer({
  clientId: 'orderflow-node-example',
  bootstrapBrokers: args['bootstrap-servers'].split(','),
  idempotent: true
})
try {
  for (let i = 0; i < Number(args.count); i++) {
    const event = orderPlaced('node-example')
    // The key is the order id: every event of one order lands in one partition, in order.
    // One send per event, awaited, so that each line printed names that event's offset;
    // a service would rather pass many messages to one send.
    const { offsets } = await producer.send({
      messages: [{
        topic: args.topic,
        key: Buffer.from(event.order_id),
        value: Buffer.concat([header, type.toBuffer(event)])
      }]
    })
    const [{ partition, offset }] = offsets
    console.log(`delivered order_id=${event.order_id} event_id=${event.event_id} partition=${partition} offset=${offset}`)
  }
} finally {
  await producer.close()
}
