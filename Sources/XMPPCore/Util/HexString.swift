extension Sequence<UInt8> {
    /// Lowercase hexadecimal digits, two per byte (hashes as XEP-0084 ids, XEP-0153 photo hashes, fingerprints).
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        for byte in self { bytes += [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]] }
        return String(decoding: bytes, as: UTF8.self)
    }
}
