import XMPPServer

extension TestServer {
    /// An xmppd with its HTTPS listener on, so its upload service (XEP-0363 at `upload.localhost`) hands out
    /// `https://localhost:PORT/…` URLs signed by the test certificate, with these `upload_*` limits. Here rather than
    /// in the client's tests, which import the client's `HTTPUploadModule` and not the server's.
    public static func withUploads(maxFileBytes: Int, bytesPerSecond: Int? = nil) async throws -> TestServer {
        try await start { configuration in
            configuration.httpsPort = 0
            try! ConfigFile.set("upload_max_file_bytes", to: String(maxFileBytes), in: &configuration)
            if let bytesPerSecond { try! ConfigFile.set("upload_bytes_per_second", to: String(bytesPerSecond), in: &configuration) }
        }
    }
}
