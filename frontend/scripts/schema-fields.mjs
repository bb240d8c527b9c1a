// Prints the fields each Zod response schema of src/api/schemas.js declares, as JSON:
// {"styleSchema": {"id": true, "progress": false, ...}} (true: required). Read by tests/test_config_api.py,
// which compares them with the server's OpenAPI document.
import * as schemas from '../src/api/schemas.js'

function objectOf(schema) {
  let current = schema
  for (let depth = 0; current && depth < 10; depth += 1) {
    const def = current._zod?.def
    if (!def) return null
    if (def.type === 'object') return current
    current = def.innerType ?? def.in ?? def.schema ?? null
  }
  return null
}

function isOptional(schema) {
  return schema._zod?.optin === 'optional' || schema._zod?.def?.type === 'default'
}

const out = {}
for (const [name, schema] of Object.entries(schemas)) {
  const object = objectOf(schema)
  if (!object) continue
  out[name] = Object.fromEntries(
    Object.entries(object._zod.def.shape).map(([field, type]) => [field, !isOptional(type)]),
  )
}
console.log(JSON.stringify(out))
