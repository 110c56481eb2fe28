/// The PRECIS profiles RFC 7622 applies to JID parts (RFC 8264, RFC 8265).
///
/// Both profiles take an ASCII fast path, since nearly all addresses are ASCII. Non-ASCII input gets the
/// width mapping, case mapping (localparts only), NFC normalization and the class checks using the Unicode
/// properties of the standard library. Not implemented yet: the Bidi Rule (RFC 5893) and the
/// HasCompat exclusion of IdentifierClass, which need Unicode data the standard library does not expose.
enum PRECIS {
    static let maximumBytes = 1023

    /// UsernameCaseMapped (RFC 8265 §3.3) with the extra exclusions of RFC 7622 §3.3.1 for localparts.
    static func usernameCaseMapped(_ input: String) throws(JIDError) -> String {
        if let ascii = try asciiLocalpart(input) { return ascii }
        var mapped = String.UnicodeScalarView()
        for scalar in input.unicodeScalars {
            let width = widthMapped(scalar)
            for lower in width.properties.lowercaseMapping.unicodeScalars { mapped.append(lower) }
        }
        let normalized = nfc(String(mapped))
        for scalar in normalized.unicodeScalars {
            guard isIdentifierClass(scalar), !isForbiddenInLocalpart(scalar) else {
                throw .invalidCharacter(.localpart, scalar)
            }
        }
        return try checkLength(normalized, .localpart)
    }

    /// OpaqueString (RFC 8265 §4.2) for resourceparts: non-ASCII spaces become U+0020, NFC, FreeformClass.
    static func opaqueString(_ input: String) throws(JIDError) -> String {
        var allASCIIPrintable = true
        for byte in input.utf8 where byte < 0x20 || byte >= 0x7F {
            allASCIIPrintable = false
            break
        }
        if allASCIIPrintable { return try checkLength(input, .resourcepart) }
        var mapped = String.UnicodeScalarView()
        for scalar in input.unicodeScalars {
            mapped.append(scalar.properties.generalCategory == .spaceSeparator ? " " : scalar)
        }
        let normalized = nfc(String(mapped))
        for scalar in normalized.unicodeScalars where !isFreeformClass(scalar) {
            throw .invalidCharacter(.resourcepart, scalar)
        }
        return try checkLength(normalized, .resourcepart)
    }

    /// The common all-ASCII localpart: lower-case it and check the ASCII7 rules; `nil` for non-ASCII input.
    private static func asciiLocalpart(_ input: String) throws(JIDError) -> String? {
        var needsLowercasing = false
        for byte in input.utf8 {
            if byte >= 0x80 { return nil }
            guard byte > 0x20 && byte < 0x7F, !isForbiddenInLocalpart(Unicode.Scalar(byte)) else {
                throw .invalidCharacter(.localpart, Unicode.Scalar(byte))
            }
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { needsLowercasing = true }
        }
        let result = needsLowercasing ? String(decoding: input.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self) : input
        return try checkLength(result, .localpart)
    }

    private static func checkLength(_ value: String, _ part: JIDError.Part) throws(JIDError) -> String {
        if value.isEmpty { throw .empty(part) }
        if value.utf8.count > maximumBytes { throw .tooLong(part) }
        return value
    }

    /// The characters RFC 7622 §3.3.1 excludes from localparts on top of the PRECIS profile.
    private static func isForbiddenInLocalpart(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "\"", "&", "'", "/", ":", "<", ">", "@": return true
        default: return false
        }
    }

    /// Maps fullwidth and halfwidth forms to their narrow equivalents (RFC 8265 §3.3.1, width mapping rule).
    static func widthMapped(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        switch scalar.value {
        case 0xFF01...0xFF5E: return Unicode.Scalar(scalar.value - 0xFF01 + 0x21) ?? scalar
        case 0x3000: return " "
        default: return scalar
        }
    }

    /// NFC normalization through the standard library's own tables.
    static func nfc(_ string: String) -> String {
        String(decoding: Array(string._nfcCodeUnits), as: UTF8.self)
    }

    /// IdentifierClass (RFC 8264 §4.2): letters, digits and ASCII printable characters.
    static func isIdentifierClass(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value >= 0x21 && scalar.value <= 0x7E { return true }
        if isAlwaysDisallowed(scalar) { return false }
        switch scalar.properties.generalCategory {
        case .lowercaseLetter, .uppercaseLetter, .otherLetter, .decimalNumber, .modifierLetter,
             .nonspacingMark, .spacingMark:
            return !scalar.properties.isDefaultIgnorableCodePoint
        default:
            return false
        }
    }

    /// FreeformClass (RFC 8264 §4.3): anything but controls, ignorables, unassigned code points and the like.
    static func isFreeformClass(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value >= 0x20 && scalar.value <= 0x7E { return true }
        if isAlwaysDisallowed(scalar) { return false }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator:
            return false
        default:
            return !scalar.properties.isDefaultIgnorableCodePoint
        }
    }

    /// Code points both classes disallow: unassigned, noncharacters, controls, old Hangul jamo.
    private static func isAlwaysDisallowed(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        if properties.age == nil || properties.isNoncharacterCodePoint { return true }
        if properties.generalCategory == .control { return true }
        if (0x1100...0x11FF).contains(scalar.value) || (0xA960...0xA97F).contains(scalar.value) || (0xD7B0...0xD7FF).contains(scalar.value) {
            return true
        }
        return false
    }
}
