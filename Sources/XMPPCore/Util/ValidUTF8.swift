extension String {
    /// Decodes `bytes` as UTF-8, or returns nil when they are not valid UTF-8 (where `String(decoding:as:)` would
    /// substitute U+FFFD). The standard library's `String(validating:as:)` does the same from macOS 15 and iOS 18;
    /// this one works on every platform the package supports.
    @inlinable
    public init?(validUTF8 bytes: some Collection<UInt8>) {
        let invalid = transcode(bytes.makeIterator(), from: UTF8.self, to: UTF32.self, stoppingOnError: true) { _ in }
        guard !invalid else { return nil }
        self.init(decoding: bytes, as: UTF8.self)
    }
}
