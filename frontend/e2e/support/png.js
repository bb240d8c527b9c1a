// A small PNG encoder (8-bit RGB, one IDAT) so the tests make their own upload images.
import { Buffer } from 'node:buffer'
import { deflateSync } from 'node:zlib'

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

function crc32(bytes) {
  let c = 0xffffffff
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function chunk(type, data) {
  const length = Buffer.alloc(4)
  length.writeUInt32BE(data.length)
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(body))
  return Buffer.concat([length, body, crc])
}

/** Encodes `pixel(x, y) -> [r, g, b]` as a width × height PNG. */
export function encodePng(width, height, pixel) {
  const raw = Buffer.alloc((width * 3 + 1) * height)
  let offset = 0
  for (let y = 0; y < height; y++) {
    raw[offset++] = 0 // filter: none
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y)
      raw[offset++] = r
      raw[offset++] = g
      raw[offset++] = b
    }
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header[8] = 8 // bit depth
  header[9] = 2 // colour type: RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw, { level: 6 })),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

function random(seed) {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

// prettier-ignore
export const HARBOR = [
  [[34, 87, 122], [92, 158, 173], [232, 214, 180], [214, 122, 76]],
  [[54, 48, 98], [130, 115, 151], [248, 200, 160], [240, 140, 110]],
  [[27, 67, 50], [82, 121, 111], [199, 217, 168], [244, 226, 133]],
]

// prettier-ignore
export const LANTERNS = [
  [[20, 24, 38], [46, 64, 87], [250, 196, 84], [222, 98, 52]],
  [[31, 22, 48], [74, 52, 92], [255, 214, 120], [235, 120, 80]],
  [[16, 40, 36], [40, 84, 70], [247, 186, 92], [200, 70, 60]],
]

/** A soft "painting": a sky-to-sea gradient with blurred colour blobs, different for each seed. */
export function paintingPng(seed, size = 512, palettes = HARBOR) {
  const rand = random(seed * 7919 + 17)
  const palette = palettes[seed % palettes.length]
  const blobs = Array.from({ length: 6 }, () => ({
    x: rand() * size,
    y: rand() * size,
    r: size * (0.12 + rand() * 0.25),
    c: palette[Math.floor(rand() * palette.length)],
  }))
  const horizon = size * (0.45 + rand() * 0.2)
  return encodePng(size, size, (x, y) => {
    const sky = y < horizon
    const t = sky ? y / horizon : (y - horizon) / (size - horizon)
    const [a, b] = sky ? [palette[2], palette[1]] : [palette[1], palette[0]]
    let rgb = a.map((v, i) => v + (b[i] - v) * t)
    for (const blob of blobs) {
      const d = Math.hypot(x - blob.x, y - blob.y) / blob.r
      if (d < 1) {
        const w = (1 - d * d) * 0.7
        rgb = rgb.map((v, i) => v + (blob.c[i] - v) * w)
      }
    }
    const grain = (rand() - 0.5) * 10
    return rgb.map((v) => Math.max(0, Math.min(255, Math.round(v + grain))))
  })
}

/** A dark hand-written-looking stroke on white: the artist's signature. */
export function signaturePng(width = 360, height = 120) {
  return encodePng(width, height, (x, y) => {
    const cy = height / 2 + Math.sin(x / 14) * 22 + Math.sin(x / 5) * 6
    const ink = Math.abs(y - cy) < 4 && x > 20 && x < width - 20
    const underline = Math.abs(y - (height - 22)) < 2 && x > 40 && x < width - 60
    return ink || underline ? [25, 25, 60] : [255, 255, 255]
  })
}

/** Upload descriptors for Playwright's setInputFiles. */
export function pngFile(name, buffer) {
  return { name, mimeType: 'image/png', buffer }
}

/** The same PNG with an XMP packet (an iTXt `XML:com.adobe.xmp` chunk right after IHDR), e.g. an
 * IPTC/PLUS data-mining reservation. */
export function withXmp(png, xmp) {
  const ihdrEnd = 8 + 12 + 13
  const data = Buffer.concat([
    Buffer.from('XML:com.adobe.xmp\0', 'latin1'),
    Buffer.from([0, 0]), // not compressed, compression method
    Buffer.from('\0\0', 'latin1'), // no language tag, no translated keyword
    Buffer.from(xmp, 'utf8'),
  ])
  return Buffer.concat([png.subarray(0, ihdrEnd), chunk('iTXt', data), png.subarray(ihdrEnd)])
}

/** An XMP packet whose IPTC/PLUS `plus:DataMining` says: no AI/ML training. */
export const NO_AI_TRAINING_XMP =
  '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
  '<rdf:Description xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" ' +
  'plus:DataMining="http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"/></rdf:RDF></x:xmpmeta>'
