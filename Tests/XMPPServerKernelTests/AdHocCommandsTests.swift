import Foundation
import Testing
import XMPPCore
import XMPPKernelTestSupport
@testable import XMPPServerKernel

/// XEP-0050 ad-hoc commands and the XEP-0133 administration commands on the kernel.
@Suite struct AdHocCommandsTests {
    static let commands = "http://jabber.org/protocol/commands"
    static let admin = "http://jabber.org/protocol/admin"

    static func scenario() async throws -> (KernelScenario, TestClient, TestClient) {
        let scenario = try KernelScenario { configuration in
            configuration.admins = [try! JID("root@example.com")]
        }
        try await scenario.account("root"); try await scenario.account("alice")
        let root = try await scenario.login("root"), alice = try await scenario.login("alice")
        _ = (root.received(), alice.received())
        return (scenario, root, alice)
    }

    /// Sends a command request and returns the answer (the `<command/>`, or the error).
    static func command(_ client: TestClient, node: String, action: String? = nil, session: String? = nil,
                        form: [String: [String]]? = nil, id: String = "c") async throws -> Element {
        var attributes = "node='\(node)'"
        if let action { attributes += " action='\(action)'" }
        if let session { attributes += " sessionid='\(session)'" }
        var x = ""
        if let form {
            x = "<x xmlns='jabber:x:data' type='submit'>" + form.map { variable, values in
                "<field var='\(variable)'>" + values.map { "<value>\($0)</value>" }.joined() + "</field>"
            }.joined() + "</x>"
        }
        try await client.send("<iq xmlns='jabber:client' type='set' id='\(id)' to='example.com'><command xmlns='\(Self.commands)' \(attributes)>\(x)</command></iq>")
        return try #require(client.received("iq").first { $0.attribute("id") == id })
    }

    static func condition(_ iq: Element) -> String? {
        iq.child("error")?.elements.first { $0.namespace == "urn:ietf:params:xml:ns:xmpp-stanzas" }?.name
    }

    @Test func theListShowsEachRequesterWhatItMayRun() async throws {
        let (_, root, alice) = try await Self.scenario()
        for (client, expectAdmin) in [(root, true), (alice, false)] {
            try await client.send("<iq xmlns='jabber:client' type='get' id='l' to='example.com'><query xmlns='http://jabber.org/protocol/disco#items' node='\(Self.commands)'/></iq>")
            let items = try #require(client.received("iq").first?.child("query")).children("item").compactMap { $0.attribute("node") }
            #expect(items.contains("ping"))
            #expect(items.contains("\(Self.admin)#add-user") == expectAdmin, "\(items)")
        }
        try await alice.send("<iq xmlns='jabber:client' type='get' id='i' to='example.com'><query xmlns='http://jabber.org/protocol/disco#info' node='ping'/></iq>")
        let info = try #require(alice.received("iq").first?.child("query"))
        #expect(info.child("identity")?.attribute("type") == "command-node")
        try await alice.send("<iq xmlns='jabber:client' type='get' id='i2' to='example.com'><query xmlns='http://jabber.org/protocol/disco#info' node='\(Self.admin)#add-user'/></iq>")
        #expect(Self.condition(try #require(alice.received("iq").first)) == "item-not-found", "not even described to a non-admin")
    }

    @Test func anAdminAddsAUserThroughTheFormAndANonAdminIsRefused() async throws {
        let (scenario, root, alice) = try await Self.scenario()
        let refused = try await Self.command(alice, node: "\(Self.admin)#add-user")
        #expect(refused.attribute("type") == "error" && Self.condition(refused) == "forbidden")

        let first = try #require(try await Self.command(root, node: "\(Self.admin)#add-user").child("command"))
        #expect(first.attribute("status") == "executing")
        #expect(first.child("actions")?.attribute("execute") == "complete")
        let session = try #require(first.attribute("sessionid"))
        let fields = first.child("x")?.children("field").compactMap { $0.attribute("var") } ?? []
        #expect(fields.contains("accountjid") && fields.contains("password"))
        let done = try #require(try await Self.command(root, node: "\(Self.admin)#add-user", action: "complete", session: session,
                                                       form: ["accountjid": ["carol@example.com"], "password": ["s3cret"], "password-verify": ["s3cret"]]).child("command"))
        #expect(done.attribute("status") == "completed" && done.child("note")?.attribute("type") == "info", "\(done)")
        #expect(try await scenario.kernel.storage.accounts.accountExists("carol"))
        // The session is over: using it again is a bad session id.
        let again = try await Self.command(root, node: "\(Self.admin)#add-user", action: "complete", session: session, form: [:])
        #expect(Self.condition(again) == "bad-request" && again.child("error")?.child("bad-sessionid") != nil)
    }

    @Test func sessionsCancelAreBoundAndBelongToTheirRequester() async throws {
        let (scenario, root, alice) = try await Self.scenario()
        let session = try #require(try await Self.command(root, node: "\(Self.admin)#change-user-password").child("command")?.attribute("sessionid"))
        // Another client cannot continue it, even knowing the id.
        let stolen = try await Self.command(alice, node: "ping", action: "complete", session: session, form: [:])
        #expect(Self.condition(stolen) == "bad-request")
        let canceled = try #require(try await Self.command(root, node: "\(Self.admin)#change-user-password", action: "cancel", session: session).child("command"))
        #expect(canceled.attribute("status") == "canceled")
        let badAction = try await Self.command(root, node: "ping", action: "jump")
        #expect(badAction.child("error")?.child("bad-action") != nil)
        // At most adhoc_max_sessions (5) under way per client.
        for index in 0..<5 { _ = try await Self.command(root, node: "\(Self.admin)#add-user", id: "s\(index)") }
        let sixth = try await Self.command(root, node: "\(Self.admin)#add-user", id: "s5")
        #expect(Self.condition(sixth) == "resource-constraint")
        _ = scenario
    }

    @Test func countsListsAnnouncementsAndTheMessageOfTheDay() async throws {
        let (scenario, root, alice) = try await Self.scenario()
        let registered = try #require(try await Self.command(root, node: "\(Self.admin)#get-registered-users-num").child("command"))
        #expect(registered.child("x")?.children("field").first { $0.attribute("var") == "registeredusersnum" }?.child("value")?.text == "2")
        let online = try #require(try await Self.command(root, node: "\(Self.admin)#get-online-users-list").child("command"))
        let jids = online.child("x")?.children("field").first { $0.attribute("var") == "onlineuserjids" }?.children("value").map(\.text)
        #expect(jids == ["alice@example.com", "root@example.com"])

        let form = try #require(try await Self.command(root, node: "\(Self.admin)#announce").child("command")?.attribute("sessionid"))
        _ = try await Self.command(root, node: "\(Self.admin)#announce", action: "complete", session: form,
                                   form: ["subject": ["Maintenance"], "announcement": ["Back at 8", "tonight"]])
        let announced = try #require(alice.received("message").first)
        #expect(announced.attribute("from") == "example.com" && announced.child("body")?.text == "Back at 8\ntonight")

        let motd = try #require(try await Self.command(root, node: "\(Self.admin)#set-motd").child("command")?.attribute("sessionid"))
        _ = try await Self.command(root, node: "\(Self.admin)#set-motd", action: "complete", session: motd, form: ["motd": ["Welcome back"]])
        let later = try await scenario.login("alice", "laptop")
        #expect(later.received("message").contains { $0.child("body")?.text == "Welcome back" }, "shown at login")
        let edit = try #require(try await Self.command(root, node: "\(Self.admin)#edit-motd").child("command"))
        #expect(edit.child("x")?.children("field").first { $0.attribute("var") == "motd" }?.child("value")?.text == "Welcome back")
        _ = try await Self.command(root, node: "\(Self.admin)#delete-motd")
        let quiet = try await scenario.login("alice", "tablet")
        #expect(!quiet.received("message").contains { $0.child("body")?.text == "Welcome back" })

        let ping = try #require(try await Self.command(alice, node: "ping").child("command"))
        #expect(ping.attribute("status") == "completed" && ping.child("note")?.text == "Pong")
    }

    /// Runs an administration command through its one form.
    static func runForm(_ client: TestClient, _ name: String, _ values: [String: [String]]) async throws -> Element {
        try #require(try await runFormAnswer(client, name, values).child("command"))
    }

    /// The same, returning the whole answer (an error, when the command refuses).
    static func runFormAnswer(_ client: TestClient, _ name: String, _ values: [String: [String]]) async throws -> Element {
        let session = try #require(try await command(client, node: "\(admin)#\(name)").child("command")?.attribute("sessionid"))
        return try await command(client, node: "\(admin)#\(name)", action: "complete", session: session, form: values)
    }

    @Test func passwordsSessionsCountsAndDeletion() async throws {
        let (scenario, root, alice) = try await Self.scenario()
        let changed = try await Self.runForm(root, "change-user-password", ["accountjid": ["alice@example.com"], "password": ["n3w"]])
        #expect(changed.child("note")?.text == "password changed for alice")
        let credentials = try #require(try await scenario.kernel.storage.accounts.credentials(of: "alice", hash: .sha256))
        #expect(credentials == SCRAMCredentials.derive(password: "n3w", hash: .sha256, iterations: credentials.iterations, salt: credentials.salt))
        let online = try #require(try await Self.command(root, node: "\(Self.admin)#get-online-users-num").child("command"))
        #expect(online.child("x")?.children("field").first { $0.attribute("var") == "onlineusersnum" }?.child("value")?.text == "2")
        let ended = try await Self.runForm(root, "end-user-session", ["accountjids": ["alice@example.com"]])
        #expect(ended.child("note")?.text == "ended 1 session" && alice.session.closedWith??.condition == .policyViolation)
        let foreign = try await Self.runFormAnswer(root, "delete-user", ["accountjids": ["alice@elsewhere.example"]])
        #expect(Self.condition(foreign) == "bad-request", "a JID of another server is refused")
        let deleted = try await Self.runForm(root, "delete-user", ["accountjids": ["alice@example.com"]])
        #expect(deleted.child("note")?.text == "deleted alice")
        #expect(try await !scenario.kernel.storage.accounts.accountExists("alice"))
        let again = try await Self.runForm(root, "delete-user", ["accountjids": ["alice@example.com"]])
        #expect(again.child("note")?.attribute("type") == "error", "no account any more")
    }

    @Test func aUsersRosterAndLastLogin() async throws {
        let (_, root, alice) = try await Self.scenario()
        try await alice.send("<iq xmlns='jabber:client' type='set' id='r'><query xmlns='jabber:iq:roster'><item jid='bob@example.com' name='Bob'/></query></iq>")
        let roster = try await Self.runForm(root, "get-user-roster", ["accountjid": ["alice@example.com"]])
        let items = roster.child("x")?.child("query", namespace: "jabber:iq:roster")?.children("item")
        #expect(items?.map { $0.attribute("jid") } == ["bob@example.com"] && items?.first?.attribute("name") == "Bob", "\(roster)")
        // Recorded off the login path: it appears a moment after the login.
        var lastLogin: String?
        for _ in 0..<100 where lastLogin == nil {
            let answer = try await Self.runForm(root, "get-user-lastlogin", ["accountjid": ["alice@example.com"]])
            lastLogin = answer.child("x")?.children("field").first { $0.attribute("var") == "lastlogin" }?.child("value")?.text
            if lastLogin == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        let stamp = try #require(lastLogin.flatMap(Delay.parse))
        #expect(abs(stamp.timeIntervalSinceNow) < 60)
        let missing = try await Self.runForm(root, "get-user-roster", ["accountjid": ["ghost@example.com"]])
        #expect(missing.child("note")?.attribute("type") == "error")
    }

    @Test func aNewAccountFindsTheWelcomeMessage() async throws {
        let (scenario, root, _) = try await Self.scenario()
        let edit = try #require(try await Self.command(root, node: "\(Self.admin)#edit-welcome").child("command")?.attribute("sessionid"))
        _ = try await Self.command(root, node: "\(Self.admin)#edit-welcome", action: "complete", session: edit, form: ["welcome": ["Hello newcomer"]])
        let add = try #require(try await Self.command(root, node: "\(Self.admin)#add-user").child("command")?.attribute("sessionid"))
        _ = try await Self.command(root, node: "\(Self.admin)#add-user", action: "complete", session: add,
                                   form: ["accountjid": ["dave@example.com"], "password": ["pw"], "password-verify": ["pw"]])
        let dave = try await scenario.login("dave")
        let welcome = await dave.receivedEventually().first { $0.name == "message" }
        #expect(welcome?.child("body")?.text == "Hello newcomer" && welcome?.attribute("from") == "example.com")
        // Emptied, there is none for the next one.
        let clear = try #require(try await Self.command(root, node: "\(Self.admin)#edit-welcome").child("command"))
        #expect(clear.child("x")?.children("field").first { $0.attribute("var") == "welcome" }?.child("value")?.text == "Hello newcomer")
        _ = try await Self.command(root, node: "\(Self.admin)#edit-welcome", action: "complete", session: clear.attribute("sessionid"), form: ["welcome": []])
        let again = try #require(try await Self.command(root, node: "\(Self.admin)#add-user").child("command")?.attribute("sessionid"))
        _ = try await Self.command(root, node: "\(Self.admin)#add-user", action: "complete", session: again,
                                   form: ["accountjid": ["erin@example.com"], "password": ["pw"], "password-verify": ["pw"]])
        let erin = try await scenario.login("erin")
        try await erin.send("<iq xmlns='jabber:client' type='get' id='sync' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>")
        #expect(!erin.received().contains { $0.child("body")?.text == "Hello newcomer" })
    }

    @Test func disablingEndsTheSessionsAndReenablingClearsTheMark() async throws {
        let (scenario, root, alice) = try await Self.scenario()
        let form = try #require(try await Self.command(root, node: "\(Self.admin)#disable-user").child("command")?.attribute("sessionid"))
        let done = try #require(try await Self.command(root, node: "\(Self.admin)#disable-user", action: "complete", session: form,
                                                       form: ["accountjids": ["alice@example.com"]]).child("command"))
        #expect(done.child("note")?.text == "disabled alice")
        #expect(alice.session.closedWith??.condition == .notAuthorized, "its session ended")
        #expect(await scenario.kernel.isDisabled("alice"))
        let again = try #require(try await Self.command(root, node: "\(Self.admin)#reenable-user").child("command")?.attribute("sessionid"))
        _ = try await Self.command(root, node: "\(Self.admin)#reenable-user", action: "complete", session: again, form: ["accountjids": ["alice@example.com"]])
        #expect(await !scenario.kernel.isDisabled("alice"))
        #expect(try await !scenario.kernel.setDisabled("nobody", true), "no such account")
        // Disabled, deleted, registered again: the new account is not disabled (memory and storage agree).
        #expect(try await scenario.kernel.setDisabled("alice", true) && scenario.kernel.isDisabledNow("alice") == true)
        #expect(try await scenario.kernel.deleteAccount("alice"))
        #expect(try await scenario.kernel.createAccount("alice", password: "again"))
        #expect(scenario.kernel.isDisabledNow("alice") == false)
        #expect(try await scenario.kernel.storage.userData.users(withKey: "account.disabled").isEmpty)
    }

    @Test func anExpiredSessionSaysSo() async throws {
        let scenario = try KernelScenario { configuration in
            configuration.admins = [try! JID("root@example.com")]
            configuration.moduleSettings["adhoc_session_timeout"] = "10"
        }
        try await scenario.account("root")
        let root = try await scenario.login("root")
        _ = root.received()
        let sessions = AdHocSessions(timeout: .milliseconds(50), maxPerRequester: 5)
        let id = try sessions.start(node: "ping", requester: root.jid)
        try await Task.sleep(for: .milliseconds(100))
        #expect(throws: AdHocSessions.Refusal.expired) { try sessions.session(id, of: root.jid) }
        #expect(throws: AdHocSessions.Refusal.unknown) { try sessions.session(id, of: root.jid) }
    }

    /// A module of a test offering a two-step command (any module can).
    struct WizardModule: ServerModule {
        let name = "wizard"
        let specifications: [String] = []
        func activate(in host: ModuleHost) {
            host.addCommand(AdHocCommand(node: "wizard", name: "Two steps", audience: .users) { step in
                switch step.stage {
                case 0: return .form(DataForm(type: .form, fields: [.init(variable: "first", type: .textSingle)]), isLast: false)
                case 1: return .form(DataForm(type: .form, fields: [.init(variable: "second", type: .textSingle)]), isLast: true)
                default: return .completed(note: AdHocNote(.info, "\(step.value("first") ?? "") then \(step.value("second") ?? "")"), results: nil)
                }
            })
        }
    }

    @Test func aMultiStepCommandGoesNextBackAndCompletes() async throws {
        let scenario = try KernelScenario(extraModules: [WizardModule()])
        try await scenario.account("alice")
        let alice = try await scenario.login("alice")
        _ = alice.received()
        let start = try #require(try await Self.command(alice, node: "wizard").child("command"))
        #expect(start.child("actions")?.attribute("execute") == "next" && start.child("actions")?.child("prev") == nil)
        let session = try #require(start.attribute("sessionid"))
        let second = try #require(try await Self.command(alice, node: "wizard", action: "next", session: session, form: ["first": ["one"]]).child("command"))
        #expect(second.child("actions")?.attribute("execute") == "complete" && second.child("actions")?.child("prev") != nil)
        #expect(second.child("x")?.child("field")?.attribute("var") == "second")
        let back = try #require(try await Self.command(alice, node: "wizard", action: "prev", session: session).child("command"))
        #expect(back.child("x")?.child("field")?.attribute("var") == "first")
        _ = try await Self.command(alice, node: "wizard", action: "next", session: session, form: ["first": ["uno"]])
        let done = try #require(try await Self.command(alice, node: "wizard", action: "complete", session: session, form: ["second": ["dos"]]).child("command"))
        #expect(done.attribute("status") == "completed" && done.child("note")?.text == "uno then dos")
    }
}

/// XEP-0157 contact addresses in the server's disco#info, counted in its capabilities hash.
@Suite struct ContactAddressesTests {
    @Test func addressesAppearInDiscoInfoAndTheCapsHashCoversThem() async throws {
        let scenario = try KernelScenario { configuration in
            configuration.moduleSettings["contact_abuse"] = "mailto:abuse@example.com, xmpp:abuse@example.com"
            configuration.moduleSettings["contact_support"] = "https://example.com/help"
        }
        try await scenario.account("alice")
        let alice = try await scenario.login("alice")
        _ = alice.received()
        try await alice.send("<iq xmlns='jabber:client' type='get' id='d' to='example.com'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
        let query = try #require(alice.received("iq").first?.child("query"))
        let form = try #require(query.children("x", namespace: DataForm.namespace).compactMap(DataForm.init(element:)).first)
        #expect(form.formType == ContactAddressesModule.formType)
        #expect(form.field("abuse-addresses")?.values == ["mailto:abuse@example.com", "xmpp:abuse@example.com"])
        #expect(form.field("support-addresses")?.values == ["https://example.com/help"] && form.field("admin-addresses") == nil)
        // A client verifying the server's caps from this answer gets the hash the server advertises.
        let identities = query.children("identity").map {
            DiscoIdentity(category: $0.attribute("category") ?? "", type: $0.attribute("type") ?? "", name: $0.attribute("name"))
        }
        let features = query.children("feature").compactMap { $0.attribute("var") }
        let advertised = scenario.kernel.postAuthenticationFeatures.first { $0.name == "c" }?.attribute("ver")
        #expect(EntityCapabilities.verification(identities: identities, features: features, forms: [form]) == advertised)
    }
}

/// XEP-0215 external services: STUN and TURN, with TURN credentials coturn accepts.
@Suite struct ExternalServicesTests {
    /// The output of a shell command, run off the test's threads.
    static func shell(_ command: String) async -> String {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/bin/sh")
                process.arguments = ["-c", command]
                let pipe = Pipe()
                process.standardOutput = pipe
                try? process.run()
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: String(decoding: data, as: UTF8.self))
            }
        }
    }

    @Test func servicesAndTurnCredentialsThatCoturnWouldCheck() async throws {
        let scenario = try KernelScenario { configuration in
            configuration.moduleSettings["stun_servers"] = "stun.example.com:3478"
            configuration.moduleSettings["turn_servers"] = "turn.example.com:3478, bad-entry"
            configuration.moduleSettings["turn_secret"] = "s3cret"
            configuration.moduleSettings["turn_credential_ttl"] = "3600"
        }
        try await scenario.account("alice")
        let alice = try await scenario.login("alice")
        _ = alice.received()
        try await alice.send("<iq xmlns='jabber:client' type='get' id='s' to='example.com'><services xmlns='urn:xmpp:extdisco:2'/></iq>")
        let services = try #require(alice.received("iq").first?.child("services")).children("service")
        #expect(services.map { $0.attribute("type") } == ["stun", "turn"], "the malformed entry is left out")
        let turn = try #require(services.last)
        let username = try #require(turn.attribute("username"))
        let expiry = try #require(Int(username.split(separator: ":").first ?? ""))
        #expect(username.hasSuffix(":alice@example.com") && abs(Double(expiry) - Date().timeIntervalSince1970 - 3600) < 60)
        // The password is what coturn computes from the shared secret: base64(HMAC-SHA1(secret, username)).
        let expected = await Self.shell("printf %s '\(username)' | openssl dgst -sha1 -hmac s3cret -binary | base64")
        #expect(turn.attribute("password") == expected.trimmingCharacters(in: .whitespacesAndNewlines), "\(expected)")

        try await alice.send("<iq xmlns='jabber:client' type='get' id='t' to='example.com'><services xmlns='urn:xmpp:extdisco:2' type='stun'/></iq>")
        #expect(try #require(alice.received("iq").first?.child("services")).children("service").map { $0.attribute("host") } == ["stun.example.com"])
        try await alice.send("<iq xmlns='jabber:client' type='get' id='c' to='example.com'><credentials xmlns='urn:xmpp:extdisco:2'><service host='turn.example.com' type='turn'/></credentials></iq>")
        #expect(try #require(alice.received("iq").first?.child("credentials")).child("service")?.attribute("password") != nil)
    }
}
