import Foundation

/// Slot tokens: 32 random bytes as 64 lowercase hex digits, which nobody can guess or enumerate.
enum UploadToken {
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    static func isWellFormed(_ token: String) -> Bool {
        token.utf8.count == 64 && token.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}

/// File names as stored and served: the client's name kept where it is safe (XEP-0363 asks to keep it, the
/// extension especially), path separators, control characters and leading dots replaced, at most 200 bytes.
enum UploadFilename {
    static func sanitized(_ name: String) -> String {
        // Scalar by scalar, so the steps cannot undo each other (a grapheme cluster could hide a dot): replace, cut to
        // 200 bytes from the front (keeping the extension), then neutralize leading dots.
        var scalars = name.unicodeScalars.map { scalar -> Unicode.Scalar in
            scalar == "/" || scalar == "\\" || scalar.value < 0x20 || scalar.value == 0x7F ? "_" : scalar
        }
        var bytes = scalars.reduce(0) { $0 + String($1).utf8.count }
        while bytes > 200, let first = scalars.first {
            bytes -= String(first).utf8.count
            scalars.removeFirst()
        }
        for index in scalars.indices {
            guard scalars[index] == "." else { break }
            scalars[index] = "_"
        }
        var cleaned = String(String.UnicodeScalarView(scalars))
        if cleaned.isEmpty { cleaned = "file" }
        return cleaned
    }

    /// The name in a URL path: every byte but unreserved characters percent-encoded (RFC 3986).
    static func percentEncoded(_ name: String) -> String {
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)...Unicode.Scalar(127)))
        allowed.insert(charactersIn: "-._~")
        return name.addingPercentEncoding(withAllowedCharacters: allowed) ?? "file"
    }
}

/// `TOKEN/.meta`: whose a stored file is, its name, size, type and when it was stored; one JSON object.
struct UploadMetadata: Codable {
    var owner: String
    var filename: String
    var size: Int
    var contentType: String
    var created: Date

    static func read(from folder: String) -> UploadMetadata? {
        guard let data = FileManager.default.contents(atPath: "\(folder)/.meta") else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return try? decoder.decode(UploadMetadata.self, from: data)
    }

    func write(to folder: String) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        try encoder.encode(self).write(to: URL(fileURLWithPath: "\(folder)/.meta"), options: .atomic)
    }
}
