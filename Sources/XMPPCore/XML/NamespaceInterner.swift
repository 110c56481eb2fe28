#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reuses the strings of namespace URIs that a stream declares again and again (`xmlns='urn:xmpp:receipts'`
/// in every message), so parsing a declaration usually allocates nothing.
///
/// The well-known namespaces (``WellKnownNamespaces``, immortal literals) sit in a fixed open-addressing
/// table found by hash; up to 32 other namespaces seen on the stream are remembered in a small ring.
struct NamespaceInterner: Sendable {
    private static let tableSize = 256  // a power of two, well above twice the well-known count

    /// The well-known table, shared by every parser: slot → index into `WellKnownNamespaces.all`, or -1.
    private static let wellKnown: (slots: [Int16], hashes: [UInt64]) = {
        var slots = [Int16](repeating: -1, count: tableSize)
        var hashes: [UInt64] = []
        for (index, literal) in WellKnownNamespaces.all.enumerated() {
            var copy = literal
            let hash = copy.withUTF8 { Self.hash(UnsafeRawBufferPointer($0)) }
            hashes.append(hash)
            var slot = Int(truncatingIfNeeded: hash) & (tableSize - 1)
            while slots[slot] >= 0 { slot = (slot + 1) & (tableSize - 1) }
            slots[slot] = Int16(index)
        }
        return (slots, hashes)
    }()

    private var hashes: [UInt64] = []
    private var strings: [String] = []
    private var nextVictim = 0
    private let capacity = 32

    /// The string for these bytes, validated and remembered.
    mutating func string(_ bytes: UnsafeRawBufferPointer) throws(XMLStreamError) -> String {
        guard !bytes.isEmpty else { return "" }
        let hash = Self.hash(bytes)
        if let known = Self.wellKnownString(hash: hash, bytes: bytes) { return known }
        for index in hashes.indices where hashes[index] == hash && Self.equal(strings[index], bytes) {
            return strings[index]
        }
        let string = try XMLText.string(bytes)
        if hashes.count < capacity {
            hashes.append(hash)
            strings.append(string)
        } else {
            hashes[nextVictim] = hash
            strings[nextVictim] = string
            nextVictim = (nextVictim + 1) % capacity
        }
        return string
    }

    private static func wellKnownString(hash: UInt64, bytes: UnsafeRawBufferPointer) -> String? {
        let table = wellKnown
        var slot = Int(truncatingIfNeeded: hash) & (tableSize - 1)
        while true {
            let index = Int(table.slots[slot])
            guard index >= 0 else { return nil }
            if table.hashes[index] == hash && equal(WellKnownNamespaces.all[index], bytes) {
                return WellKnownNamespaces.all[index]
            }
            slot = (slot + 1) & (tableSize - 1)
        }
    }

    private static func equal(_ string: String, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var string = string
        return string.withUTF8 { stored in
            stored.count == bytes.count && memcmp(stored.baseAddress!, bytes.baseAddress!, bytes.count) == 0
        }
    }

    /// FNV-1a, 64 bits: cheap, and good enough to tell a few dozen namespace URIs apart.
    private static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return hash
    }
}
