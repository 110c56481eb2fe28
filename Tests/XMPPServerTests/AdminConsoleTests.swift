import Foundation
import Testing
import XMPPCore
@testable import XMPPServer
import XMPPServerKernel
import XMPPServerMUC
import XMPPTestSupport

/// The web admin console (`/admin`) and its JSON API: a real browser (headless Chromium driven by selenium) in the
/// console next to a slixmpp client, the API from Python, and the admin socket's commands that share the API.
@Suite struct AdminConsoleTests {
    /// Whether Debian's chromium and chromium-driver are installed (`.ci/run` installs them).
    static var hasBrowser: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")
    }

    @Test(.timeLimit(.minutes(4)))
    func browserInTheConsole() async throws {
        try #require(Self.hasBrowser, "chromium and chromium-driver are needed (apt-get install chromium chromium-driver)")
        let steps = try await SlixmppInteropTests.run("browser_admin_scenario", storage: "sqlite", configure: { configuration in
            configuration.kernel.admins = [try! JID("browser-admin@localhost")]
        }, extraArguments: { server in
            [String(server.httpPort ?? 0)] + (ProcessInfo.processInfo.environment["XMPPD_ADMIN_SCREENSHOTS"].map { [$0] } ?? [])
        }).steps
        #expect(steps.count == 9, "steps: \(steps)")
    }

    /// The `/chat` page in the browser, over WebSocket, with a slixmpp friend.
    @Test(.timeLimit(.minutes(4)))
    func browserOnTheChatPage() async throws {
        try #require(Self.hasBrowser, "chromium and chromium-driver are needed (apt-get install chromium chromium-driver)")
        let steps = try await SlixmppInteropTests.run("browser_chat_scenario", storage: "memory", extraArguments: { server in
            [String(server.httpPort ?? 0)] + (ProcessInfo.processInfo.environment["XMPPD_ADMIN_SCREENSHOTS"].map { [$0] } ?? [])
        }).steps
        #expect(steps.count == 4, "steps: \(steps)")
    }

    @Test(.timeLimit(.minutes(3)))
    func apiAndRefusals() async throws {
        let steps = try await SlixmppInteropTests.run("admin_http_scenario", storage: "sqlite", configure: { configuration in
            configuration.kernel.admins = [try! JID("api-admin@localhost")]
            configuration.limits.authFailuresPerAccount = 3
        }, extraArguments: { server in [String(server.httpPort ?? 0)] }).steps
        #expect(steps.count == 8, "steps: \(steps)")
    }

    /// xmppctl's room and account commands go through the same API as the console.
    @Test func adminSocketRoomsAndAccounts() async throws {
        let server = try await TestServer.start(storage: "memory") { $0.kernel.admins = [try! JID("boss@localhost")] }
        defer { Task { await server.stop() } }
        let administration = server.server.administration
        #expect(await AdminSocket.answer("adduser boss pw1", administration: administration) == "created boss")
        #expect(await AdminSocket.answer("adduser boss pw1", administration: administration) == "error: boss@localhost exists already")
        #expect(await AdminSocket.answer("passwd boss pw2", administration: administration) == "changed boss")
        #expect(await administration.authenticate(try JID("boss@localhost"), password: "pw2", address: "127.0.0.1"))
        #expect(await !administration.authenticate(try JID("boss@localhost"), password: "pw1", address: "127.0.0.1"))
        #expect(await AdminSocket.answer("mkroom hall@conference.localhost The hall", administration: administration)
            == "created hall@conference.localhost")
        #expect(await AdminSocket.answer("rooms", administration: administration) == "hall@conference.localhost occupants 0 persistent")
        let details = try await administration.roomDetails("hall@conference.localhost")
        #expect(details.summary.name == "The hall" && details.affiliations["boss@localhost"] == "owner")
        #expect(await AdminSocket.answer("rmroom hall@conference.localhost bye", administration: administration) == "destroyed hall@conference.localhost")
        #expect(await AdminSocket.answer("rmroom hall@conference.localhost", administration: administration)
            == "error: no room hall@conference.localhost")
        #expect(await AdminSocket.answer("rooms", administration: administration) == "")
    }

    /// The effective configuration never shows a secret.
    @Test func settingsMaskSecrets() async throws {
        let server = try await TestServer.start(storage: "memory") { configuration in
            configuration.metricsToken = "a-very-secret-metrics-token"
            configuration.components = ["gateway.localhost": "component-secret"]
        }
        defer { Task { await server.stop() } }
        let settings = server.server.administration.settings
        let text = settings.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
        #expect(!text.contains("a-very-secret-metrics-token") && !text.contains("component-secret"), "\(text)")
        #expect(settings.contains { $0.key == "components" && $0.value == "gateway.localhost=********" })
        #expect(settings.contains { $0.key == "c2s_port" })
    }
}
