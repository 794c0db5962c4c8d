/**
 * An index over a serialized google.protobuf.FileDescriptorSet (gen/descriptors.binpb), for
 * server reflection: files by name with their imports, and the file that defines each symbol
 * or extension. Read straight off the wire with the few field numbers of descriptor.proto it
 * needs, so the files are served byte for byte as buf built them, and no descriptor runtime
 * (protobufjs, proto-loader, a registry) is loaded into the hub.
 */
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';

export interface DescriptorIndex {
  /** The file named `name` followed by its transitive imports, each once; undefined if unknown. */
  fileWithImports(name: string): Uint8Array[] | undefined;
  /** Name of the file defining a fully-qualified symbol (message, field, enum, value, service, method, extension). */
  fileOfSymbol(symbol: string): string | undefined;
  /** Name of the file declaring extension `number` of message `type` (fully qualified, no leading dot). */
  fileOfExtension(type: string, number: number): string | undefined;
  /** Extension numbers declared for a message type; undefined if the type is unknown. */
  extensionNumbers(type: string): number[] | undefined;
}

interface IndexedFile {
  bytes: Uint8Array;
  dependencies: string[];
}

// Field numbers from google/protobuf/descriptor.proto.
const FILE = { name: 1, package: 2, dependency: 3, messageType: 4, enumType: 5, service: 6, extension: 7 };
const MESSAGE = { name: 1, field: 2, nestedType: 3, enumType: 4, extension: 6 };
const FIELD = { name: 1, extendee: 2, number: 3 };
const ENUM = { name: 1, value: 2 };
const SERVICE = { name: 1, method: 2 };
const NAME = 1;

/** Calls `onField(field, reader)` for every field of a message; unread values are skipped. */
function readFields(bytes: Uint8Array, onField: (field: number, wireType: WireType, reader: BinaryReader) => boolean): void {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (!onField(field, wireType, reader)) reader.skip(wireType);
  }
}

/** The name (field 1) of a DescriptorProto, FieldDescriptorProto, EnumDescriptorProto, ... */
function nameOf(bytes: Uint8Array): string {
  let name = '';
  readFields(bytes, (field, wireType, r) => (field === NAME && wireType === WireType.LengthDelimited ? ((name = r.string()), true) : false));
  return name;
}

/** Splits a FileDescriptorSet (`repeated FileDescriptorProto file = 1`) into its files. */
export function splitFileDescriptorSet(bytes: Uint8Array): Uint8Array[] {
  const files: Uint8Array[] = [];
  readFields(bytes, (field, wireType, r) => (field === 1 && wireType === WireType.LengthDelimited ? (files.push(r.bytes()), true) : false));
  return files;
}

export function createDescriptorIndex(set: Uint8Array): DescriptorIndex {
  const files = new Map<string, IndexedFile>();
  const symbols = new Map<string, string>();
  /** extendee (no leading dot) -> number -> file */
  const extensions = new Map<string, Map<number, string>>();
  const messages = new Set<string>();

  for (const bytes of splitFileDescriptorSet(set)) {
    let name = '';
    let pkg = '';
    const dependencies: string[] = [];
    const parts: [number, Uint8Array][] = [];
    readFields(bytes, (field, wireType, r) => {
      if (wireType !== WireType.LengthDelimited) return false;
      if (field === FILE.name) name = r.string();
      else if (field === FILE.package) pkg = r.string();
      else if (field === FILE.dependency) dependencies.push(r.string());
      else parts.push([field, r.bytes()]);
      return true;
    });
    // Sets built separately may repeat a shared import: the first one wins.
    if (files.has(name)) continue;
    files.set(name, { bytes, dependencies });

    const scope = (n: string, parent: string) => (parent ? `${parent}.${n}` : n);
    const addExtension = (field: Uint8Array) => {
      let extendee = '';
      let number = 0;
      readFields(field, (f, wt, r) => {
        if (f === FIELD.extendee && wt === WireType.LengthDelimited) extendee = r.string().replace(/^\./, '');
        else if (f === FIELD.number && wt === WireType.Varint) number = r.int32();
        else return false;
        return true;
      });
      if (!extensions.has(extendee)) extensions.set(extendee, new Map());
      extensions.get(extendee)!.set(number, name);
    };
    const addEnum = (enumBytes: Uint8Array, parent: string) => {
      symbols.set(scope(nameOf(enumBytes), parent), name);
      // Enum values are siblings of their enum, as in protobuf's own scoping.
      readFields(enumBytes, (f, wt, r) => (f === ENUM.value && wt === WireType.LengthDelimited ? (symbols.set(scope(nameOf(r.bytes()), parent), name), true) : false));
    };
    const addMessage = (messageBytes: Uint8Array, parent: string) => {
      const full = scope(nameOf(messageBytes), parent);
      symbols.set(full, name);
      messages.add(full);
      readFields(messageBytes, (f, wt, r) => {
        if (wt !== WireType.LengthDelimited) return false;
        if (f === MESSAGE.field) symbols.set(scope(nameOf(r.bytes()), full), name);
        else if (f === MESSAGE.nestedType) addMessage(r.bytes(), full);
        else if (f === MESSAGE.enumType) addEnum(r.bytes(), full);
        else if (f === MESSAGE.extension) {
          const ext = r.bytes();
          symbols.set(scope(nameOf(ext), full), name);
          addExtension(ext);
        } else return false;
        return true;
      });
    };
    for (const [field, part] of parts) {
      if (field === FILE.messageType) addMessage(part, pkg);
      else if (field === FILE.enumType) addEnum(part, pkg);
      else if (field === FILE.service) {
        const service = scope(nameOf(part), pkg);
        symbols.set(service, name);
        readFields(part, (f, wt, r) => (f === SERVICE.method && wt === WireType.LengthDelimited ? (symbols.set(scope(nameOf(r.bytes()), service), name), true) : false));
      } else if (field === FILE.extension) {
        symbols.set(scope(nameOf(part), pkg), name);
        addExtension(part);
      }
    }
  }

  return {
    fileWithImports(name) {
      if (!files.has(name)) return undefined;
      const out: Uint8Array[] = [];
      const seen = new Set<string>();
      const visit = (n: string) => {
        const file = files.get(n);
        if (!file || seen.has(n)) return;
        seen.add(n);
        out.push(file.bytes);
        for (const dep of file.dependencies) visit(dep);
      };
      visit(name);
      return out;
    },
    fileOfSymbol: (symbol) => symbols.get(symbol.replace(/^\./, '')),
    fileOfExtension: (type, number) => extensions.get(type.replace(/^\./, ''))?.get(number),
    extensionNumbers(type) {
      const t = type.replace(/^\./, '');
      if (!messages.has(t)) return undefined;
      return [...(extensions.get(t)?.keys() ?? [])].sort((a, b) => a - b);
    },
  };
}
