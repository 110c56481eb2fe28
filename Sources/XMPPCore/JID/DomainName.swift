/// Normalization and validation of domainparts (RFC 7622 §3.2).
enum DomainName {
    /// Lower-cases, width-maps and NFC-normalizes a domainpart, drops one trailing dot, and checks that it is
    /// an IP literal (`[::1]`), an IPv4 address, or a sequence of labels of letters, digits and hyphens
    /// (non-ASCII letters and marks allowed for internationalized names).
    static func normalize(_ input: String) throws(JIDError) -> String {
        var domain = input
        if domain.hasSuffix(".") { domain.removeLast() }
        guard !domain.isEmpty else { throw .empty(.domainpart) }
        if domain.utf8.first == UInt8(ascii: "[") {
            return try ipLiteral(domain)
        }
        if domain.utf8.contains(where: { $0 >= 0x80 }) {
            domain = internationalized(domain)
        } else if domain.utf8.contains(where: { $0 >= 65 && $0 <= 90 }) {
            domain = String(decoding: domain.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
        }
        guard domain.utf8.count <= PRECIS.maximumBytes else { throw .tooLong(.domainpart) }
        for label in domain.split(separator: ".", omittingEmptySubsequences: false) {
            try checkLabel(label)
        }
        return domain
    }

    /// Applies the IDNA2008 mapping (RFC 5895): width mapping, lower case, NFC; ideographic full stops
    /// become dots.
    private static func internationalized(_ domain: String) -> String {
        var mapped = String.UnicodeScalarView()
        for scalar in domain.unicodeScalars {
            switch scalar.value {
            case 0x3002, 0xFF0E, 0xFF61:
                mapped.append(".")
            default:
                let narrow = PRECIS.widthMapped(scalar)
                mapped.append(contentsOf: narrow.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return PRECIS.nfc(String(mapped))
    }

    private static func checkLabel(_ label: Substring) throws(JIDError) {
        guard !label.isEmpty else { throw .invalidDomain("empty label") }
        guard label.utf8.count <= 63 || label.utf8.contains(where: { $0 >= 0x80 }) else { throw .invalidDomain("label longer than 63 bytes") }
        guard label.first != "-", label.last != "-" else { throw .invalidDomain("label starts or ends with a hyphen") }
        for scalar in label.unicodeScalars {
            switch scalar {
            case "a"..."z", "0"..."9", "-", "_":
                // "_" is not a hostname character, but it is common in service names of test setups and
                // components; Prosody and ejabberd accept it too.
                continue
            default:
                guard scalar.value >= 0x80 else { throw .invalidCharacter(.domainpart, scalar) }
                switch scalar.properties.generalCategory {
                case .lowercaseLetter, .otherLetter, .modifierLetter, .decimalNumber, .nonspacingMark, .spacingMark:
                    continue
                default:
                    throw .invalidCharacter(.domainpart, scalar)
                }
            }
        }
    }

    /// `[IPv6]` literals: hex digits, colons and dots (for an embedded IPv4 part), lower-cased.
    private static func ipLiteral(_ domain: String) throws(JIDError) -> String {
        guard domain.hasSuffix("]"), domain.count > 2 else { throw .invalidDomain("malformed IP literal") }
        let inner = domain.dropFirst().dropLast()
        guard inner.contains(":") else { throw .invalidDomain("malformed IPv6 literal") }
        for character in inner {
            guard character.isHexDigit || character == ":" || character == "." else {
                throw .invalidDomain("malformed IPv6 literal")
            }
        }
        return "[" + inner.lowercased() + "]"
    }
}
