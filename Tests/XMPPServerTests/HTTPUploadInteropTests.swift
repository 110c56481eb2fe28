import Testing
import XMPPServer
import XMPPTestSupport

/// HTTP file upload (XEP-0363) with slixmpp's xep_0363 plugin, which PUTs with aiohttp, and downloads, ranges and
/// refusals over plain HTTPS requests (Interop/slixmpp_upload_scenario.py).
@Suite struct HTTPUploadInteropTests {
    @Test func uploadScenario() async throws {
        let steps = try await SlixmppInteropTests.run("slixmpp_upload_scenario", storage: "memory") { configuration in
            configuration.httpsPort = 0
            try! ConfigFile.set("upload_max_file_bytes", to: "1048576", in: &configuration)
            try! ConfigFile.set("upload_quota_bytes", to: "3145728", in: &configuration)
        }.steps
        #expect(steps.count == 9, "steps: \(steps)")
        #expect(!steps.contains { $0.hasPrefix("FAIL") }, "steps: \(steps)")
    }
}
