import XMPPServer
import XMPPTestSupport

/// An xmppd with its HTTPS listener on, so its upload service (XEP-0363 at `upload.localhost`) hands out
/// `https://localhost:PORT/…` URLs signed by the test certificate. Apart from the tests, which import the client's
/// `HTTPUploadModule` and not the server's.
enum UploadServerFixture {
    /// Starts the server with these `upload_*` limits.
    static func start(maxFileBytes: Int, bytesPerSecond: Int? = nil) async throws -> TestServer {
        try await TestServer.start { configuration in
            configuration.httpsPort = 0
            try! ConfigFile.set("upload_max_file_bytes", to: String(maxFileBytes), in: &configuration)
            if let bytesPerSecond { try! ConfigFile.set("upload_bytes_per_second", to: String(bytesPerSecond), in: &configuration) }
        }
    }
}
