#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Turning validated bytes into strings, and decoding entity and character references.
enum XMLText {
    /// Makes a string from UTF-8 bytes, rejecting invalid UTF-8 and code points that XML 1.0 does not allow
    /// (surrogates, U+FFFE, U+FFFF, beyond U+10FFFF).
    @inline(__always)
    static func string(_ bytes: UnsafeRawBufferPointer) throws(XMLStreamError) -> String {
        if !isASCII(bytes) {
            guard isValidXMLUTF8(bytes) else { throw .notWellFormed("invalid UTF-8") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Makes a string from UTF-8 bytes held in an array, with the checks of ``string(_:)-(UnsafeRawBufferPointer)``.
    static func string(_ bytes: [UInt8]) throws(XMLStreamError) -> String {
        let valid = bytes.withUnsafeBytes { isASCII($0) || isValidXMLUTF8($0) }
        guard valid else { throw .notWellFormed("invalid UTF-8") }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether every byte is below 0x80, checked eight bytes at a time.
    @inline(__always)
    static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let count = bytes.count
        while index + 8 <= count {
            if bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
            index += 8
        }
        while index < count {
            if bytes[index] >= 0x80 { return false }
            index += 1
        }
        return true
    }

    /// A strict UTF-8 check (RFC 3629: no overlong forms, no surrogates) that also rejects U+FFFE and U+FFFF.
    static func isValidXMLUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let count = bytes.count
        while index < count {
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            let length: Int
            var scalar: UInt32
            switch lead {
            case 0xC2...0xDF: length = 2; scalar = UInt32(lead & 0x1F)
            case 0xE0...0xEF: length = 3; scalar = UInt32(lead & 0x0F)
            case 0xF0...0xF4: length = 4; scalar = UInt32(lead & 0x07)
            default: return false
            }
            guard index + length <= count else { return false }
            for offset in 1..<length {
                let continuation = bytes[index + offset]
                guard continuation & 0xC0 == 0x80 else { return false }
                scalar = scalar << 6 | UInt32(continuation & 0x3F)
            }
            switch length {
            case 3 where scalar < 0x800 || (0xD800...0xDFFF).contains(scalar) || scalar == 0xFFFE || scalar == 0xFFFF:
                return false
            case 4 where scalar < 0x10000 || scalar > 0x10FFFF:
                return false
            default:
                break
            }
            index += length
        }
        return true
    }

    /// Decodes the inside of `&...;`: one of the five predefined entities or a character reference.
    /// Any other entity would need a DTD, which XMPP forbids (RFC 6120 §11.1). Allocates nothing.
    static func decodeReference(_ reference: UnsafeRawBufferPointer) throws(XMLStreamError) -> Unicode.Scalar {
        if let predefined = predefinedEntity(reference) { return predefined }
        guard reference.first == UInt8(ascii: "#") else {
            if reference.isEmpty { throw .notWellFormed("empty entity reference") }
            throw .restricted("undefined entity '\(String(decoding: reference, as: UTF8.self))'")
        }
        var digits = reference.dropFirst()
        var radix: UInt32 = 10
        if digits.first == UInt8(ascii: "x") {
            radix = 16
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.count <= 8 else { throw .notWellFormed("malformed character reference") }
        var value: UInt32 = 0
        for digit in digits {
            let digitValue: UInt32
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digitValue = UInt32(digit - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: digitValue = UInt32(digit - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F") where radix == 16: digitValue = UInt32(digit - UInt8(ascii: "A") + 10)
            default: throw .notWellFormed("malformed character reference")
            }
            value = value * radix + digitValue
        }
        guard isXMLCharacter(value), let scalar = Unicode.Scalar(value) else {
            throw .notWellFormed("character reference to a character XML does not allow")
        }
        return scalar
    }

    /// `amp`, `lt`, `gt`, `quot` and `apos`, compared byte by byte.
    private static func predefinedEntity(_ name: UnsafeRawBufferPointer) -> Unicode.Scalar? {
        func matches(_ literal: StaticString) -> Bool {
            guard literal.utf8CodeUnitCount == name.count else { return false }
            for index in 0..<name.count where name[index] != literal.utf8Start[index] { return false }
            return true
        }
        switch name.count {
        case 2: return matches("lt") ? "<" : matches("gt") ? ">" : nil
        case 3: return matches("amp") ? "&" : nil
        case 4: return matches("quot") ? "\"" : matches("apos") ? "'" : nil
        default: return nil
        }
    }

    /// Appends the UTF-8 encoding of `scalar`.
    @inline(__always)
    static func appendUTF8(_ scalar: Unicode.Scalar, to bytes: inout [UInt8]) {
        UTF8.encode(scalar) { bytes.append($0) }
    }

    /// XML 1.0 `Char`: tab, LF, CR, and U+0020 to U+10FFFF except surrogates, U+FFFE and U+FFFF.
    static func isXMLCharacter(_ value: UInt32) -> Bool {
        switch value {
        case 0x09, 0x0A, 0x0D, 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: return true
        default: return false
        }
    }
}

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
