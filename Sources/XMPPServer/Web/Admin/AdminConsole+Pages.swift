import Foundation
import NIOHTTP1
import XMPPCore
import XMPPServerMUC

/// The console's pages: each GET renders from the administration API, each POST (a form) acts and redirects (303).
extension AdminConsole {
    /// Fixed texts of the notices a redirect names (`?notice=...`): nothing a link could inject.
    static let notices: [String: String] = [
        "created": "The account was created.", "password": "The password was set.", "deleted": "The account was deleted.",
        "kicked": "The session was ended.", "room-created": "The room was created.", "room-destroyed": "The room was destroyed.",
        "logged-out": "You are logged out.",
    ]

    func console(_ request: AdminRequest) async -> WebResponse {
        let path = Array(request.segments.dropFirst())
        if path == ["login"] { return await login(request) }
        guard let session = sessions.session(request.cookie(Self.sessionCookie)) else {
            return request.method == .GET ? Self.redirect("/admin/login") : .text(.forbidden, "log in first")
        }
        if request.method == .POST {
            // Every form carries the session's token: a page on another site cannot post one.
            guard Self.tokensMatch(request.form["csrf"], session.csrfToken) else {
                return .text(.forbidden, "the form's CSRF token is missing or wrong; reload the page and try again")
            }
            return await act(path, request: request, session: session)
        }
        guard request.method == .GET || request.method == .HEAD else { return .text(.methodNotAllowed, "GET or POST") }
        var page = AdminPages.Page(title: "", section: "", administrator: session.jid.description, csrf: session.csrfToken,
                                   notice: request.query["notice"].flatMap { Self.notices[$0] })
        page.isServerAdministrator = session.scope == .server
        let (administration, scope) = (self.administration, session.scope)
        switch path {
        case []:
            page.title = "Dashboard"
            page.section = "dashboard"
            return pages.render("dashboard", page: page, content: AdminPages.dashboard(await administration.overview(scope: scope)))
        case ["users"]:
            let number = Int(request.query["page"] ?? "1") ?? 1
            do {
                let accounts = try await administration.accounts(matching: request.query["q"] ?? "", page: number, scope: scope)
                page.title = "Users"
                page.section = "users"
                return pages.render("users", page: page, content: AdminPages.users(accounts))
            } catch {
                return pages.failure(error, page: page)
            }
        case let p where p.count == 2 && p[0] == "users":
            do {
                let details = try await administration.accountDetails(p[1], scope: scope)
                page.title = details.jid
                page.section = "users"
                return pages.render("user", page: page, content: AdminPages.user(details))
            } catch {
                return pages.failure(error, page: page)
            }
        case ["sessions"]:
            page.title = "Sessions"
            page.section = "sessions"
            let (sessions, total) = await administration.sessions(scope: scope)
            return pages.render("sessions", page: page, content: ["sessions": sessions.map(AdminPages.session), "total": total,
                                                                    "truncated": total > sessions.count, "shown": sessions.count])
        case ["rooms"]:
            page.title = "Chat rooms"
            page.section = "rooms"
            let rooms = await administration.rooms(scope: scope)
            return pages.render("rooms", page: page, content: ["rooms": rooms.prefix(1000).map(AdminPages.room), "total": rooms.count,
                                                                 "truncated": rooms.count > 1000,
                                                                 "service": administration.roomServiceDomains(scope: scope).first ?? "conference.example.org"])
        case let p where p.count == 2 && p[0] == "rooms":
            do {
                let details = try await administration.roomDetails(p[1], scope: scope)
                page.title = details.summary.jid
                page.section = "rooms"
                return pages.render("room", page: page, content: AdminPages.room(details))
            } catch {
                return pages.failure(error, page: page)
            }
        case ["config"] where scope == .server:
            page.title = "Configuration"
            page.section = "config"
            return pages.render("config", page: page, content: ["settings": administration.settings.map { ["key": $0.key, "value": $0.value] }])
        case ["logs"] where scope == .server:
            page.title = "Log"
            page.section = "logs"
            return pages.render("logs", page: page, content: ["lines": administration.logLines.map(AdminPages.logLine)])
        default:
            return .text(.notFound, "no such page")
        }
    }

    /// A form's action.
    private func act(_ path: [String], request: AdminRequest, session: AdminSessions.Session) async -> WebResponse {
        let form = request.form
        let (administration, scope) = (self.administration, session.scope)
        var page = AdminPages.Page(title: "Error", section: "", administrator: session.jid.description, csrf: session.csrfToken)
        page.isServerAdministrator = scope == .server
        do {
            switch path {
            case ["logout"]:
                sessions.close(request.cookie(Self.sessionCookie))
                var response = Self.redirect("/admin/login?notice=logged-out")
                response.headers.add(name: "Set-Cookie", value: Self.cookie(Self.sessionCookie, "", secure: request.isSecure, maxAge: 0))
                return response
            case ["users"]:
                let account = try await administration.createAccount(form["jid"] ?? "", password: form["password"] ?? "", scope: scope)
                return Self.redirect("/admin/users/\(FormData.encode(account.jid))?notice=created")
            case let p where p.count == 3 && p[0] == "users" && p[2] == "password":
                try await administration.setPassword(of: p[1], to: form["password"] ?? "", scope: scope)
                if let jid = try? administration.account(p[1], scope: scope).jid, jid != session.jid { sessions.close(allOf: jid) }
                return Self.redirect("/admin/users/\(FormData.encode(p[1]))?notice=password")
            case let p where p.count == 3 && p[0] == "users" && p[2] == "delete":
                let jid = try administration.account(p[1], scope: scope).jid
                try await administration.deleteAccount(p[1], scope: scope)
                sessions.close(allOf: jid)
                return Self.redirect("/admin/users?notice=deleted")
            case ["sessions", "kick"]:
                _ = try administration.kick(form["jid"] ?? "", scope: scope)
                return Self.redirect("/admin/sessions?notice=kicked")
            case ["rooms"]:
                let room = try await administration.createRoom(form["jid"] ?? "", title: form["title"] ?? "", owner: form["owner"], scope: scope)
                return Self.redirect("/admin/rooms/\(FormData.encode(room.jid))?notice=room-created")
            case let p where p.count == 3 && p[0] == "rooms" && p[2] == "destroy":
                let reason = form["reason"].flatMap { $0.isEmpty ? nil : $0 }
                try await administration.destroyRoom(p[1], reason: reason, scope: scope)
                return Self.redirect("/admin/rooms?notice=room-destroyed")
            default:
                return .text(.notFound, "no such action")
            }
        } catch {
            return pages.failure(error, page: page)
        }
    }

    /// `GET /admin/login` shows the form (and sets the login form's token); `POST` checks the administrator's JID and
    /// password and opens a session.
    private func login(_ request: AdminRequest) async -> WebResponse {
        var page = AdminPages.Page(title: "Log in", section: "login", administrator: nil, csrf: "",
                                   notice: request.query["notice"].flatMap { Self.notices[$0] })
        if request.method == .POST {
            let form = request.form
            guard let expected = request.cookie(Self.loginCookie), Self.tokensMatch(form["csrf"], expected) else {
                return .text(.forbidden, "the login form's token is missing or wrong; reload the login page")
            }
            if let jid = JID(validating: (form["jid"] ?? "").trimmingCharacters(in: .whitespaces)), jid.localpart != nil,
               await administration.authenticate(jid, password: form["password"] ?? "", address: request.clientAddress) {
                let token = sessions.open(for: jid.bare, scope: administration.scope(of: jid))
                var response = Self.redirect("/admin")
                response.headers.add(name: "Set-Cookie", value: Self.cookie(Self.sessionCookie, token, secure: request.isSecure))
                response.headers.add(name: "Set-Cookie", value: Self.cookie(Self.loginCookie, "", secure: request.isSecure, maxAge: 0))
                return response
            }
            page.csrf = expected
            page.error = "Wrong JID or password, or not an administrator. Repeated failures are slowed down and then refused for a while."
            var response = pages.render("login", page: page, content: ["jid": form["jid"] ?? ""])
            response.status = .unauthorized
            return response
        }
        guard request.method == .GET || request.method == .HEAD else { return .text(.methodNotAllowed, "GET or POST") }
        page.csrf = AdminSessions.randomToken()
        var response = pages.render("login", page: page, content: [:])
        response.headers.add(name: "Set-Cookie", value: Self.cookie(Self.loginCookie, page.csrf, secure: request.isSecure))
        return response
    }
}
