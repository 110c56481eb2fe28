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

    /// With virtual hosts, a tenant's administrator administers only their own domain (accounts, sessions, rooms), and
    /// does not see the server's configuration and log; the first domain's administrators administer every domain.
    @Test func aTenantsAdministratorAdministersOnlyTheirDomain() async throws {
        let server = try await TestServer.start(storage: "memory") { configuration in
            try? ConfigFile.set("domains", to: "localhost, b.test", in: &configuration)
            try? ConfigFile.set("admins", to: "root@localhost, boss@b.test", in: &configuration)
        }
        defer { Task { await server.stop() } }
        let administration = server.server.administration
        for account in ["root@localhost", "alice@localhost", "boss@b.test", "bob@b.test"] {
            _ = try await administration.createAccount(account, password: "pw-\(account)")
        }
        let boss = administration.scope(of: try JID("boss@b.test"))
        let root = administration.scope(of: try JID("root@localhost"))
        #expect(boss == .domain("b.test") && root == .server)
        await #expect(throws: Administration.Failure.self) { try await administration.setPassword(of: "root@localhost", to: "mine", scope: boss) }
        await #expect(throws: Administration.Failure.self) { try await administration.deleteAccount("alice", scope: boss) }
        #expect(await administration.authenticate(try JID("root@localhost"), password: "pw-root@localhost", address: "127.0.0.1"))
        #expect(try await administration.accounts(scope: boss).accounts.map(\.jid) == ["bob@b.test", "boss@b.test"])
        #expect(try await administration.accounts().total == 4)
        try await administration.setPassword(of: "bob@b.test", to: "new", scope: boss)
        #expect(try administration.kick("alice@localhost", scope: boss) == 0)

        // Over HTTP with Basic credentials: another domain's account is not found, the server's settings are refused.
        let port = try #require(server.httpPort)
        let script = """
        import base64, sys, urllib.request, urllib.error
        def get(path, who):
            request = urllib.request.Request(f"http://127.0.0.1:\(port)/admin/api/{path}")
            request.add_header("Authorization", "Basic " + base64.b64encode(who.encode()).decode())
            try:
                return urllib.request.urlopen(request, timeout=30).status
            except urllib.error.HTTPError as error:
                return error.code
        boss, root = "boss@b.test:pw-boss@b.test", "root@localhost:pw-root@localhost"
        print(get("users/root%40localhost", boss), get("config", boss), get("users/bob%40b.test", boss),
              get("users/bob%40b.test", root), get("config", root))
        """
        let (status, output) = try await runProcess(["python3", "-c", script], timeout: 60)
        #expect(status == 0 && output.trimmingCharacters(in: .whitespacesAndNewlines) == "404 403 200 200 200", "\(output)")
    }

    /// With the server running, xmppctl's account, room and reporting commands are calls of the same administration API
    /// (through the admin socket): the server's own state changes, and what it reports is what the console shows.
    // The limit counts the wait for a place among the suite's scenarios (the test itself takes seconds).
    @Test(.timeLimit(.minutes(5)))
    func xmppctlUsesTheRunningServer() async throws {
        // One place for the whole test: its nine xmppctl runs do not queue nine times behind the other scenarios.
        try await TestGate.servers.run { try await xmppctlAgainstTheRunningServer() }
    }

    private func xmppctlAgainstTheRunningServer() async throws {
        let server = try await TestServer.start(storage: "memory") { configuration in
            configuration.metricsToken = "a-secret-token-for-metrics"
            configuration.kernel.admins = [try! JID("dora@localhost")]
        }
        defer { Task { await server.stop() } }
        let ctl = builtExecutable("xmppctl")
        let data = ["--data-dir", server.directory]
        let created = try await runProcess([ctl, "adduser", "dora", "--password", "first"] + data, timeout: 30)
        #expect(created.status == 0 && created.output.contains("created dora"), "\(created.output)")
        // In memory storage: only the running server could have created it.
        #expect(try await server.server.kernel.storage.accounts.accountExists("dora"))
        let twice = try await runProcess([ctl, "adduser", "dora", "--password", "x"] + data, timeout: 30)
        #expect(twice.status == 4 && twice.output.contains("dora already exists"), "\(twice.output)")
        let changed = try await runProcess([ctl, "passwd", "dora", "--password", "second"] + data, timeout: 30)
        #expect(changed.status == 0, "\(changed.output)")
        #expect(await server.server.administration.authenticate(try JID("dora@localhost"), password: "second", address: "127.0.0.1"))
        #expect(try await server.server.kernel.storage.accounts.credentials(of: "dora", hash: .sha256).map {
            ServerNegotiationStateMachine.passwordMatches("second", $0)
        } == true)
        let user = try await runProcess([ctl, "user", "dora"] + data, timeout: 30)
        #expect(user.status == 0 && user.output.contains("jid dora@localhost") && user.output.contains("disabled false"), "\(user.output)")
        let settings = try await runProcess([ctl, "settings"] + data, timeout: 30)
        #expect(settings.output.contains("storage = memory") && settings.output.contains("metrics_token = ********")
                && !settings.output.contains("a-secret-token-for-metrics"), "\(settings.output)")
        let log = try await runProcess([ctl, "log"] + data, timeout: 30)
        #expect(log.status == 0, "\(log.output)")
        let room = try await runProcess([ctl, "mkroom", "tea@conference.localhost", "Tea", "room"] + data, timeout: 30)
        let rooms = try await runProcess([ctl, "rooms"] + data, timeout: 30)
        #expect(room.status == 0 && rooms.output.contains("tea@conference.localhost occupants 0 persistent"), "\(room.output) \(rooms.output)")
    }

    /// Every page's template parses (they are compiled into the server; a broken one would show a notice instead).
    @Test func everyConsoleTemplateParses() {
        #expect(AdminPages().templateFailures.isEmpty, "\(AdminPages().templateFailures)")
        #expect(AdminTemplates.pages.count == 11)
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
