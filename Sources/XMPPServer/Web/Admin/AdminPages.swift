import Foundation
import Mustache
import NIOHTTP1
import XMPPServerMUC

/// Renders the console's pages: each page's template (``AdminTemplates``) inside the common layout, from plain
/// dictionaries (mustache escapes every `{{value}}`).
struct AdminPages: Sendable {
    /// What every page shows around its content.
    struct Page {
        var title: String
        /// The navigation entry to mark current.
        var section: String
        /// The logged-in administrator, nil on the login page.
        var administrator: String?
        var csrf: String
        var notice: String?
        var error: String?
        /// Whether the administrator handles the whole server (sees its configuration and log), not one virtual host.
        var isServerAdministrator = true
    }

    private let library: MustacheLibrary
    /// The templates that did not parse (ours and fixed, so a bug the tests catch); each renders as a plain notice.
    let templateFailures: [String]

    init() {
        var library = MustacheLibrary()
        var failures: [String] = []
        for (name, text) in AdminTemplates.pages {
            do {
                try library.register(text, named: name)
            } catch {
                failures.append("\(name): \(error)")
                try? library.register("<p>This page could not be prepared.</p>", named: name)
            }
        }
        self.library = library
        templateFailures = failures
    }

    /// `name`'s template with `content`, inside the layout.
    func render(_ name: String, page: Page, content: [String: Any]) -> WebResponse {
        var context = content
        context["csrf"] = page.csrf
        let body = library.render(context, withTemplate: name) ?? ""
        var layout: [String: Any] = ["title": page.title, "body": body, "csrf": page.csrf, "loggedIn": page.administrator != nil]
        layout["administrator"] = page.administrator
        layout["notice"] = page.notice
        layout["error"] = page.error
        layout["nav"] = AdminTemplates.sections.filter { page.isServerAdministrator || !AdminTemplates.serverSections.contains($0.id) }.map { section in
            ["path": section.path, "label": section.label, "current": section.id == page.section]
        }
        let html = library.render(layout, withTemplate: "layout") ?? ""
        return WebResponse.document(html, contentType: "text/html; charset=utf-8")
    }

    /// An error page for a failed request, with the API's status.
    func failure(_ error: any Error, page: Page) -> WebResponse {
        let failure = error as? Administration.Failure ?? .failed("\(error)")
        var page = page
        page.title = "Not done"
        page.error = failure.text
        var response = render("failure", page: page, content: [:])
        response.status = HTTPResponseStatus(statusCode: failure.status)
        return response
    }

    /// `/admin/static/NAME`: the stylesheet and the live chart's script.
    func staticFile(_ name: String) -> WebResponse {
        switch name {
        case "admin.css": WebResponse.document(AdminTemplates.stylesheet, contentType: "text/css; charset=utf-8")
        case "chart.js": WebResponse.document(AdminTemplates.chartScript, contentType: "text/javascript; charset=utf-8")
        default: .text(.notFound, "no such file")
        }
    }

    // MARK: Contexts

    static func dashboard(_ overview: Administration.Overview) -> [String: Any] {
        [
            "software": overview.software, "version": overview.version, "domains": overview.domains.joined(separator: ", "),
            "uptime": duration(overview.uptimeSeconds), "connections": overview.connections, "sessions": overview.sessions,
            "accounts": overview.accounts, "messages": overview.messagesReceived,
            "rate": String(format: "%.1f", overview.messagesPerSecond), "memory": bytes(overview.residentMemoryBytes),
            "storage": bytes(overview.storageBytes), "rooms": overview.rooms, "remoteDomains": overview.remoteDomains,
            "figures": overview.figures.sorted { $0.key < $1.key }.map { ["name": $0.key, "value": $0.value] },
        ]
    }

    static func users(_ page: Administration.AccountPage) -> [String: Any] {
        let pages = max(1, (page.total + page.pageSize - 1) / page.pageSize)
        var context: [String: Any] = [
            "accounts": page.accounts.map { ["jid": $0.jid, "link": FormData.encode($0.jid), "sessions": $0.sessions] },
            "total": page.total, "page": page.page, "pages": pages, "query": page.query, "empty": page.accounts.isEmpty,
        ]
        let query = page.query.isEmpty ? "" : "&q=\(FormData.encode(page.query))"
        if page.page > 1 { context["previous"] = "/admin/users?page=\(page.page - 1)\(query)" }
        if page.page < pages { context["next"] = "/admin/users?page=\(page.page + 1)\(query)" }
        return context
    }

    static func user(_ details: Administration.AccountDetails) -> [String: Any] {
        var context: [String: Any] = [
            "jid": details.jid, "link": FormData.encode(details.jid), "disabled": details.isDisabled,
            "sessions": details.sessions.map(session), "hasSessions": !details.sessions.isEmpty,
            "roster": details.roster.map { ["jid": $0.jid, "name": $0.name ?? "", "subscription": $0.subscription, "groups": $0.groups.joined(separator: ", ")] },
            "hasRoster": !details.roster.isEmpty,
        ]
        context["fullName"] = details.fullName
        context["nickname"] = details.nickname
        context["email"] = details.email
        context["hasVCard"] = details.fullName != nil || details.nickname != nil || details.email != nil
        return context
    }

    static func session(_ session: Administration.Session) -> [String: Any] {
        [
            "jid": session.jid, "resource": session.resource, "address": session.address, "listener": session.listener,
            "tls": session.tlsVersion ?? "–", "client": session.client ?? "–", "idle": duration(session.idleSeconds),
            "presence": session.presence ?? "–",
        ]
    }

    static func room(_ room: RoomSummary) -> [String: Any] {
        [
            "jid": room.jid, "link": FormData.encode(room.jid), "name": room.name, "occupants": room.occupants,
            "kind": room.isPersistent ? "persistent" : "temporary", "public": room.isPublic ? "public" : "hidden",
            "locked": room.isLocked,
        ]
    }

    static func room(_ details: RoomDetails) -> [String: Any] {
        var context = room(details.summary)
        context["subject"] = details.summary.subject ?? ""
        context["description"] = details.description
        context["occupantList"] = details.occupants.map { ["nickname": $0.nickname, "jid": $0.jid, "role": $0.role, "affiliation": $0.affiliation] }
        context["hasOccupants"] = !details.occupants.isEmpty
        context["affiliations"] = details.affiliations.sorted { $0.key < $1.key }.map { ["jid": $0.key, "affiliation": $0.value] }
        context["settings"] = [
            ["name": "Members only", "value": details.summary.isMembersOnly ? "yes" : "no"],
            ["name": "Password protected", "value": details.summary.isPasswordProtected ? "yes" : "no"],
            ["name": "Moderated", "value": details.isModerated ? "yes" : "no"],
            ["name": "Most occupants", "value": details.maxOccupants == 0 ? "service limit" : String(details.maxOccupants)],
            ["name": "History kept", "value": String(details.historyLength)],
            ["name": "Real JIDs visible to", "value": details.realJIDsVisibleToAnyone ? "anyone" : "moderators"],
            ["name": "Invitations by participants", "value": details.allowsInvitations ? "yes" : "no"],
        ]
        return context
    }

    static func logLine(_ line: RecentLogLines.Line) -> [String: Any] {
        ["time": ISO8601DateFormatter().string(from: line.time), "level": line.level, "message": line.message, "metadata": line.metadata]
    }

    static func duration(_ seconds: Int) -> String {
        switch seconds {
        case ..<60: "\(seconds) s"
        case ..<3600: "\(seconds / 60) min \(seconds % 60) s"
        case ..<86_400: "\(seconds / 3600) h \(seconds % 3600 / 60) min"
        default: "\(seconds / 86_400) d \(seconds % 86_400 / 3600) h"
        }
    }

    static func bytes(_ count: Int) -> String {
        switch count {
        case ..<1024: "\(count) B"
        case ..<1_048_576: String(format: "%.1f KiB", Double(count) / 1024)
        case ..<1_073_741_824: String(format: "%.1f MiB", Double(count) / 1_048_576)
        default: String(format: "%.2f GiB", Double(count) / 1_073_741_824)
        }
    }
}
