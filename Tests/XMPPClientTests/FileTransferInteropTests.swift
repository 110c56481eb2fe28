import Foundation
import Testing
import XMPPClient
import XMPPCore
import XMPPServer
import XMPPServerKernel
import XMPPTestSupport

/// XMPPClient's file transfer against a peer that speaks only stream initiation: slixmpp's XEP-0095/0096 with its
/// XEP-0065 and XEP-0047 plugins (Interop/slixmpp_file_peer.py), both ways, over each bytestream, through xmppd (and
/// slixmpp connecting straight to our own streamhost).
@Suite("File transfer with slixmpp")
struct FileTransferInteropTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let method: BytestreamMethod
        let slixmppSends: Bool
        var testDescription: String { (slixmppSends ? "slixmpp sends" : "slixmpp receives") + " over \(method.rawValue)" }
    }

    @Test("a file crosses whole, by stream initiation", arguments: [
        Case(method: .direct, slixmppSends: false), Case(method: .socks5, slixmppSends: false), Case(method: .inBand, slixmppSends: false),
        Case(method: .socks5, slixmppSends: true), Case(method: .inBand, slixmppSends: true),
    ])
    func streamInitiationWithSlixmpp(_ test: Case) async throws {
        let script = try #require(Bundle.module.url(forResource: "slixmpp_file_peer", withExtension: "py", subdirectory: "Interop"))
        let directory = NSTemporaryDirectory() + "ft-interop-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result: (status: Int32, output: String, file: Data, received: Data?)? = try await TestGate.servers.run {
            let server = try await TestServer.start(storage: "memory")
            defer { Task { await server.stop() } }
            _ = try await server.server.kernel.storage.accounts.createAccount("peer", credentials: SCRAMCredentials.allHashes(password: "pw", iterations: 4096))
            var options = FileTransferModule.Options()
            options.methods = [test.method]
            let (client, files) = try await FileTransferTests.client("swift", on: server, methods: options.methods)
            let size = 200_000
            let source = try FileTransferTests.randomFile(bytes: size, in: directory)
            let peerPath = "\(directory)/peer.bin"
            if test.slixmppSends {
                try FileManager.default.copyItem(atPath: source.path, toPath: peerPath)
            }
            let arguments = ["python3", "-u", script.path, "127.0.0.1", String(server.port), "localhost", server.certificatePath, "peer", "pw",
                             test.slixmppSends ? "send" : "receive", test.method == .inBand ? "ibb" : "socks5",
                             try #require(client.jid).description, peerPath]
            let peerRun = Task { try await runProcess(arguments, timeout: 60) }
            let destination = URL(fileURLWithPath: "\(directory)/received.bin")
            var received: Data?
            if test.slixmppSends {
                let offers = files.offers
                let waiting = Task { () -> IncomingFileOffer? in
                    for await offer in offers { return offer }
                    return nil
                }
                let giveUp = Task { try await Task.sleep(for: .seconds(60)); waiting.cancel() }
                if let offer = await waiting.value {
                    giveUp.cancel()
                    #expect(offer.transferProtocol == .streamInitiation && offer.methods == [test.method] && offer.file.size == Int64(size))
                    _ = try await files.accept(offer, saveTo: destination).value
                    received = try Data(contentsOf: destination)
                }
            } else {
                // The peer is online when the server has its session.
                let peer = try JID("peer@localhost/peer")
                for _ in 0..<300 where server.server.kernel.registry.entries(of: peer.bare).isEmpty {
                    try await Task.sleep(for: .milliseconds(50))
                }
                let method = try await files.send(file: source, to: peer, using: .streamInitiation).value
                #expect(method == test.method)
            }
            let (status, output) = try await peerRun.value
            await client.disconnect()
            return (status, output, try Data(contentsOf: source), received ?? (try? Data(contentsOf: URL(fileURLWithPath: peerPath))))
        }
        let (status, output, sent, received) = try #require(result)
        #expect(status == 0, "the slixmpp peer failed:\n\(output)")
        #expect(received == sent, "\(output)")
        #expect(output.contains(test.slixmppSends ? "sent \(sent.count)" : "received \(sent.count) "), "\(output)")
    }
}
