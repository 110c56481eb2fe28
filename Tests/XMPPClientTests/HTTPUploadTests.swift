import Foundation
import Testing
import XMPPClient
import XMPPCore
import XMPPTestSupport

/// HTTPUploadModule (XEP-0363) against xmppd's upload service over real HTTPS on loopback, and Prosody's mod_http_file_share.
@Suite("HTTP file upload against xmppd and Prosody")
struct HTTPUploadTests {
    static let maxFileBytes = 1_048_576

    /// A temporary file of `count` random bytes; removed by the caller.
    static func randomFile(_ count: Int) throws -> (URL, Data) {
        var generator = SystemRandomNumberGenerator()
        let data = Data((0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("upload-\(UUID().uuidString).bin")
        try data.write(to: url)
        return (url, data)
    }

    /// alice, registered and online, with an upload module.
    static func uploader(_ fixture: ClientFixture) async throws -> (XMPPClient, HTTPUploadModule) {
        let alice = try fixture.client("alice")
        let uploads = alice.add(HTTPUploadModule())
        try await alice.connect(registering: true)
        return (alice, uploads)
    }

    /// Runs `body` against an xmppd with uploads over HTTPS (at most four servers at once).
    static func withServer(bytesPerSecond: Int? = nil, _ body: (TestServer, ClientFixture) async throws -> Void) async throws {
        try await TestGate.servers.run {
            let server = try await TestServer.withUploads(maxFileBytes: maxFileBytes, bytesPerSecond: bytesPerSecond)
            do { try await body(server, ClientFixture(server: server)) } catch { await server.stop(); throw error }
            await server.stop()
        }
    }

    @Test("finds the service with its size limit, uploads a file with progress to the total, downloads the same bytes, shares the URL with OOB")
    func uploadDownloadAndShare() async throws { try await Self.withServer { server, fixture in
        let (alice, uploads) = try await Self.uploader(fixture)
        let bob = try fixture.client("bob")
        let bobChat = bob.add(ChatModule())
        try await bob.connect(registering: true)

        let service = try await uploads.service()
        #expect(service.jid == (try JID("upload.localhost")))
        #expect(service.maxFileSize == Int64(Self.maxFileBytes))

        let (file, content) = try Self.randomFile(300_000)
        defer { try? FileManager.default.removeItem(at: file) }
        let transfer = uploads.upload(file: file, filename: "holiday photo.jpg")
        let steps = Task { await transfer.progress.reduce(into: [TransferProgress]()) { $0.append($1) } }
        let url = try await transfer.value
        let progress = await steps.value
        #expect(url.scheme == "https" && url.host == "localhost" && url.port == server.httpsPort, "\(url)")
        #expect(url.absoluteString.hasSuffix("/holiday%20photo.jpg"), "\(url)")
        #expect(progress.first?.completed == 0 && progress.last == TransferProgress(completed: 300_000, total: 300_000), "\(progress.suffix(3))")
        #expect(progress.map(\.completed) == progress.map(\.completed).sorted(), "progress only grows")

        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("download-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: copy) }
        let received = try await uploads.download(url, to: copy).value
        #expect(received == 300_000)
        #expect(try Data(contentsOf: copy) == content)

        // From memory too, with the type given.
        let small = try await uploads.upload(Data("hello".utf8), filename: "note.txt", contentType: "text/plain").value
        let note = FileManager.default.temporaryDirectory.appendingPathComponent("note-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: note) }
        _ = try await uploads.download(small, to: note).value
        #expect(try String(contentsOf: note, encoding: .utf8) == "hello")

        let incoming = bobChat.messages
        try await uploads.share(url, with: try fixture.jid("bob"))
        let shared = await first(incoming) { _ in true }
        #expect(shared?.body == url.absoluteString)
        #expect(shared?.outOfBandURL == url, "\(String(describing: shared?.stanza.element))")
        await alice.disconnect()
        await bob.disconnect()
    } }

    @Test("a file over the service's limit: a typed error with the limit, from the server's answer and before asking")
    func fileTooLarge() async throws { try await Self.withServer { _, fixture in
        let (alice, uploads) = try await Self.uploader(fixture)
        let size = Int64(Self.maxFileBytes + 1)
        await #expect(throws: HTTPUploadError.fileTooLarge(size: size, maxFileSize: Int64(Self.maxFileBytes))) {
            _ = try await uploads.requestSlot(filename: "big.iso", size: size)
        }
        await #expect(throws: HTTPUploadError.fileTooLarge(size: size, maxFileSize: Int64(Self.maxFileBytes))) {
            _ = try await uploads.upload(Data(count: Self.maxFileBytes + 1), filename: "big.iso").value
        }
        await alice.disconnect()
    } }

    @Test("cancelling an upload midway closes its connection; the server serves nothing at the URL")
    func cancelMidway() async throws { try await Self.withServer(bytesPerSecond: 64 * 1024) { _, fixture in
        let (alice, uploads) = try await Self.uploader(fixture)
        // More than loopback's socket buffers hold, read slowly by the server: the upload is still going when cancelled.
        let (file, _) = try Self.randomFile(Self.maxFileBytes)
        defer { try? FileManager.default.removeItem(at: file) }
        let slot = try await uploads.requestSlot(filename: "slow.bin", size: Int64(Self.maxFileBytes), contentType: "application/octet-stream")
        let transfer = uploads.put(file: file, into: slot, contentType: "application/octet-stream")
        let started = await first(transfer.progress, timeout: .seconds(10)) { $0.completed > 0 }
        #expect(started != nil)
        let waiting = Task { try await transfer.value }
        try await Task.sleep(for: .milliseconds(200))
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        let check = FileManager.default.temporaryDirectory.appendingPathComponent("cancelled-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: check) }
        await #expect(throws: HTTPUploadError.httpStatus(404, "no such file (it may have expired)")) {
            _ = try await uploads.download(slot.getURL, to: check).value
        }
        #expect(!FileManager.default.fileExists(atPath: check.path), "a failed download leaves no file")
        // The slot is gone with the cut-off upload.
        await #expect(throws: HTTPUploadError.self) { try await uploads.put(file: file, into: slot, contentType: "application/octet-stream").value }
        await alice.disconnect()
    } }

    @Test("the HTTPS connection checks the upload host's certificate with the configured trust")
    func untrustedCertificate() async throws { try await Self.withServer { _, fixture in
        let (alice, uploads) = try await Self.uploader(fixture)
        _ = try await uploads.service()
        // The test server's certificate is self-signed: the system's trust store does not know it.
        alice.configuration.trust = .system
        do {
            _ = try await uploads.upload(Data("secret".utf8), filename: "a.txt").value
            Issue.record("uploaded to an untrusted server")
        } catch HTTPUploadError.transferFailed(let cause) {
            #expect(cause.kind == .untrustedCertificate, "\(cause)")
        }
        await alice.disconnect()
    } }

    @Test("an upload on which nothing moves (a stalled network) fails after the request timeout, as timed out")
    func stalledUpload() async throws { try await Self.withServer(bytesPerSecond: 64 * 1024) { server, fixture in
        let (alice, uploads) = try await Self.uploader(fixture)
        let (file, _) = try Self.randomFile(Self.maxFileBytes)
        defer { try? FileManager.default.removeItem(at: file) }
        let slot = try await uploads.requestSlot(filename: "stalled.bin", size: Int64(Self.maxFileBytes), contentType: "application/octet-stream")
        // The same slot through a proxy that will stop relaying, still as https://localhost (the certificate's name).
        let proxy = try await TCPProxy.start(to: try #require(server.httpsPort))
        var components = try #require(URLComponents(url: slot.putURL, resolvingAgainstBaseURL: false))
        components.port = proxy.port
        let proxied = UploadSlot(putURL: try #require(components.url), getURL: slot.getURL, headers: slot.headers)
        alice.configuration.requestTimeout = .seconds(1)
        let transfer = uploads.put(file: file, into: proxied, contentType: "application/octet-stream")
        #expect(await first(transfer.progress, timeout: .seconds(10)) { $0.completed > 0 } != nil)
        proxy.stallAll()
        let started = ContinuousClock.now
        // Without the stall detection the upload would wait forever: cancelled after 10 s, it fails the test.
        let deadline = Task { try await Task.sleep(for: .seconds(10)); transfer.cancel() }
        defer { deadline.cancel() }
        do {
            try await transfer.value
            Issue.record("the upload finished through a stalled proxy")
        } catch HTTPUploadError.transferFailed(let cause) {
            #expect(cause.kind == .timedOut, "\(cause)")
            #expect(ContinuousClock.now - started < .seconds(10))
        }
        await proxy.stop()
        await alice.disconnect()
    } }

    @Test("xmpp upload prints the URL, shares it with --to, shows progress only at a terminal, and fails with status 4 over the limit")
    func commandLine() async throws { try await Self.withServer { server, fixture in
        let bob = try fixture.client("bob")
        let bobChat = bob.add(ChatModule())
        try await bob.connect(registering: true)
        try await server.createAccount("carol", password: "pw")
        let (file, content) = try Self.randomFile(200_000)
        defer { try? FileManager.default.removeItem(at: file) }
        func xmpp(_ arguments: [String]) async throws -> (status: Int32, output: String) {
            try await runProcess([builtExecutable("xmpp")] + arguments + [
                "--jid", "carol@localhost", "--password", "pw", "--server", "127.0.0.1:\(server.port)", "--ca-file", server.certificatePath,
            ], timeout: 30)
        }
        let incoming = bobChat.messages
        let uploaded = try await xmpp(["upload", file.path, "--to", "bob@localhost"])
        #expect(uploaded.status == 0, "\(uploaded.output)")
        // Standard output and error come mixed here: the URL (output) and the note (error, as output is no terminal).
        let lines = uploaded.output.split(separator: "\n").map(String.init)
        let url = try #require(lines.first { $0.hasPrefix("https://") }.flatMap { URL(string: $0) }, "\(uploaded.output)")
        #expect(lines.sorted() == [url.absoluteString, "shared with bob@localhost"], "nothing but the URL and the note: \(uploaded.output)")
        #expect(url.scheme == "https" && url.lastPathComponent == file.lastPathComponent, "\(url)")
        let shared = await first(incoming) { _ in true }
        #expect(shared?.body == url.absoluteString && shared?.outOfBandURL == url)
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: copy) }
        _ = try await bob.add(HTTPUploadModule()).download(url, to: copy).value
        #expect(try Data(contentsOf: copy) == content)

        // At a terminal (a pseudo-terminal from script(1), where it exists), a progress line goes to standard error.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/script") {
            let command = ([builtExecutable("xmpp"), "upload", file.path, "--jid", "carol@localhost", "--password", "pw",
                            "--server", "127.0.0.1:\(server.port)", "--ca-file", server.certificatePath]).map { "'\($0)'" }.joined(separator: " ")
            let terminal = try await runProcess(["/usr/bin/script", "-qec", command, "/dev/null"], timeout: 30)
            #expect(terminal.status == 0 && terminal.output.contains("upload 100% (200 KB of 200 KB)"), "\(terminal.output)")
        }

        let (big, _) = try Self.randomFile(Self.maxFileBytes + 1)
        defer { try? FileManager.default.removeItem(at: big) }
        let refused = try await xmpp(["upload", big.path])
        #expect(refused.status == 4, "\(refused.output)")
        #expect(refused.output.contains("too large") && refused.output.contains("at most \(Self.maxFileBytes) bytes"), "\(refused.output)")
        let missing = try await xmpp(["upload", "/nonexistent/file"])
        #expect(missing.status == 1, "\(missing.output)")
        await bob.disconnect()
    } }

    @Test("against Prosody's mod_http_file_share (plain HTTP here): service and limit, upload, download, a file over the limit")
    func prosody() async throws { try await ProsodyServer.with { prosody in
        let fixture = ClientFixture(host: "127.0.0.1", port: prosody.port, domain: "localhost", trust: .caFile(prosody.certificatePath))
        let (alice, uploads) = try await Self.uploader(fixture)
        let service = try await uploads.service()
        #expect(service.jid == (try JID("upload.localhost")) && service.maxFileSize == Int64(ProsodyServer.uploadSizeLimit))
        let (file, content) = try Self.randomFile(300_000)
        defer { try? FileManager.default.removeItem(at: file) }
        let transfer = uploads.upload(file: file, filename: "photo.jpg")
        let steps = Task { await transfer.progress.reduce(into: [TransferProgress]()) { $0.append($1) } }
        let url = try await transfer.value
        #expect(await steps.value.last == TransferProgress(completed: 300_000, total: 300_000))
        #expect(url.host == "localhost" && url.port == prosody.httpPort && url.lastPathComponent == "photo.jpg", "\(url)")
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("prosody-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: copy) }
        _ = try await uploads.download(url, to: copy).value
        #expect(try Data(contentsOf: copy) == content)
        let size = Int64(ProsodyServer.uploadSizeLimit + 1)
        await #expect(throws: HTTPUploadError.fileTooLarge(size: size, maxFileSize: Int64(ProsodyServer.uploadSizeLimit))) {
            _ = try await uploads.requestSlot(filename: "big.iso", size: size)
        }
        await alice.disconnect()
    } }
}
