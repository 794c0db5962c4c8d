import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import { createDescriptorIndex, splitFileDescriptorSet } from './descriptor-index.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const SET = readFileSync(join(ROOT, 'gen', 'descriptors.binpb'));
const BUF = join(ROOT, 'node_modules', '.bin', 'buf');
const index = createDescriptorIndex(SET);
const nameOfFile = (bytes: Uint8Array) => fromBinary(FileDescriptorSetSchema, Buffer.concat([Buffer.from([0x0a, ...varint(bytes.length)]), bytes])).file[0]!.name;

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

describe('descriptor index (gen/descriptors.binpb)', () => {
  it('finds the file of every symbol @bufbuild/protobuf’s registry finds', () => {
    const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, SET));
    let checked = 0;
    for (const type of registry) {
      const file = `${type.file.name}.proto`;
      expect(index.fileOfSymbol(type.typeName), type.typeName).toBe(file);
      if (type.kind === 'service') for (const m of type.methods) expect(index.fileOfSymbol(`${type.typeName}.${m.name}`)).toBe(file);
      if (type.kind === 'message') for (const f of type.fields) expect(index.fileOfSymbol(`${type.typeName}.${f.name}`)).toBe(file);
      if (type.kind === 'enum') {
        // Enum values are scoped like their enum, not inside it.
        const parent = type.typeName.slice(0, type.typeName.lastIndexOf('.'));
        for (const v of type.values) expect(index.fileOfSymbol(`${parent}.${v.name}`)).toBe(file);
      }
      checked++;
    }
    expect(checked).toBeGreaterThan(50);
    expect(index.fileOfSymbol('.hapi.hub.v1.HubService')).toBe('hapi/hub/v1/hub.proto');
    expect(index.fileOfSymbol('grpc.health.v1.Health.Check')).toBe('grpc/health/v1/health.proto');
    expect(index.fileOfSymbol('grpc.reflection.v1alpha.ServerReflection')).toBe('grpc/reflection/v1alpha/reflection.proto');
    expect(index.fileOfSymbol('hapi.hub.v1.Nope')).toBeUndefined();
  });

  it('serves a file first, then each of its transitive imports once, byte for byte', () => {
    const files = index.fileWithImports('hapi/hub/v1/hub.proto')!;
    const names = files.map(nameOfFile);
    expect(names[0]).toBe('hapi/hub/v1/hub.proto');
    expect(names).toEqual(expect.arrayContaining(['hapi/common/v1/common.proto', 'google/protobuf/timestamp.proto']));
    expect(new Set(names).size).toBe(names.length);
    const all = splitFileDescriptorSet(SET);
    for (const f of files) expect(all.some((a) => Buffer.compare(Buffer.from(a), Buffer.from(f)) === 0)).toBe(true);
    expect(index.fileWithImports('nope.proto')).toBeUndefined();
  });

  it('answers extension queries: known message types have none, unknown types are not found', () => {
    expect(index.extensionNumbers('google.protobuf.Timestamp')).toEqual([]);
    expect(index.extensionNumbers('hapi.hub.v1.Nope')).toBeUndefined();
    expect(index.fileOfExtension('google.protobuf.Timestamp', 1000)).toBeUndefined();
  });

  it('indexes extensions declared at file level and inside messages (a set built by buf)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapi-ext-'));
    try {
      mkdirSync(join(dir, 'x'));
      writeFileSync(join(dir, 'x', 'base.proto'), 'syntax = "proto2";\npackage x;\nmessage Base { extensions 100 to 200; }\n');
      writeFileSync(
        join(dir, 'x', 'ext.proto'),
        'syntax = "proto2";\npackage x;\nimport "x/base.proto";\nextend Base { optional int32 top = 150; }\nmessage Holder { extend Base { optional string inner = 120; } }\n',
      );
      const set = execFileSync(BUF, ['build', dir, '--as-file-descriptor-set', '-o', '-'], { cwd: dir });
      const ext = createDescriptorIndex(set);
      expect(ext.extensionNumbers('x.Base')).toEqual([120, 150]);
      expect(ext.extensionNumbers('.x.Holder')).toEqual([]);
      expect(ext.fileOfExtension('x.Base', 150)).toBe('x/ext.proto');
      expect(ext.fileOfExtension('.x.Base', 120)).toBe('x/ext.proto');
      expect(ext.fileOfSymbol('x.top')).toBe('x/ext.proto');
      expect(ext.fileOfSymbol('x.Holder.inner')).toBe('x/ext.proto');
      expect(ext.fileWithImports('x/ext.proto')!.map(nameOfFile)).toEqual(['x/ext.proto', 'x/base.proto']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
