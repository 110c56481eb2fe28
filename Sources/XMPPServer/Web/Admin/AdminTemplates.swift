/// The console's mustache templates, stylesheet and chart script, compiled into the server (no files to install).
/// Every value is escaped (`{{value}}`); only the layout's `{{{body}}}`, itself rendered from escaped values, is not.
enum AdminTemplates {
    /// The navigation: id, path, label.
    static let sections: [(id: String, path: String, label: String)] = [
        ("dashboard", "/admin", "Dashboard"), ("users", "/admin/users", "Users"), ("sessions", "/admin/sessions", "Sessions"),
        ("rooms", "/admin/rooms", "Chat rooms"), ("config", "/admin/config", "Configuration"), ("logs", "/admin/logs", "Log"),
    ]

    /// The sections about the whole server, for its administrators only (not a virtual host's).
    static let serverSections: Set<String> = ["config", "logs"]

    static let pages: [(String, String)] = [
        ("layout", layout), ("login", login), ("dashboard", dashboard), ("users", users), ("user", user), ("sessions", sessions),
        ("rooms", rooms), ("room", room), ("config", config), ("logs", logs), ("failure", "<p><a href=\"/admin\">Back to the dashboard</a></p>"),
    ]

    static let layout = """
    <!DOCTYPE html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>{{title}} – xmppd admin</title>
    <link rel="stylesheet" href="/admin/static/admin.css">
    </head>
    <body>
    <header>
    <a class="brand" href="/admin">xmppd admin</a>
    {{#loggedIn}}
    <nav aria-label="Sections"><ul>
    {{#nav}}<li><a href="{{path}}"{{#current}} aria-current="page"{{/current}}>{{label}}</a></li>{{/nav}}
    </ul></nav>
    <form class="logout" method="post" action="/admin/logout">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <span>{{administrator}}</span> <button type="submit">Log out</button>
    </form>
    {{/loggedIn}}
    </header>
    <main id="main">
    <h1>{{title}}</h1>
    {{#notice}}<p class="notice" role="status">{{notice}}</p>{{/notice}}
    {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
    {{{body}}}
    </main>
    </body>
    </html>
    """

    static let login = """
    <form method="post" action="/admin/login" class="card">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <p><label for="jid">Administrator JID</label>
    <input id="jid" name="jid" type="text" autocomplete="username" required value="{{jid}}"></p>
    <p><label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required></p>
    <p><button type="submit">Log in</button></p>
    </form>
    """

    static let dashboard = """
    <section aria-labelledby="server-heading">
    <h2 id="server-heading">Server</h2>
    <dl class="figures">
    <div><dt>Software</dt><dd>{{software}} {{version}}</dd></div>
    <div><dt>Domains</dt><dd>{{domains}}</dd></div>
    <div><dt>Uptime</dt><dd id="uptime">{{uptime}}</dd></div>
    <div><dt>Connections</dt><dd id="connections">{{connections}}</dd></div>
    <div><dt>Sessions</dt><dd id="sessions">{{sessions}}</dd></div>
    <div><dt>Accounts</dt><dd>{{accounts}}</dd></div>
    <div><dt>Messages received</dt><dd>{{messages}}</dd></div>
    <div><dt>Messages per second</dt><dd id="rate">{{rate}}</dd></div>
    <div><dt>Memory (resident)</dt><dd>{{memory}}</dd></div>
    <div><dt>Storage</dt><dd>{{storage}}</dd></div>
    <div><dt>Chat rooms</dt><dd>{{rooms}}</dd></div>
    <div><dt>Remote servers</dt><dd>{{remoteDomains}}</dd></div>
    </dl>
    </section>
    <section aria-labelledby="chart-heading">
    <h2 id="chart-heading">Last ten minutes</h2>
    <canvas id="chart" width="640" height="180" role="img" aria-label="Sessions and messages per second over the last ten minutes">
    Sessions and messages per second (needs JavaScript).</canvas>
    <p class="legend"><span class="sessions">■ sessions</span> <span class="messages">■ messages/s</span></p>
    <script src="/admin/static/chart.js"></script>
    </section>
    <section aria-labelledby="figures-heading">
    <h2 id="figures-heading">Modules</h2>
    <table><thead><tr><th scope="col">Figure</th><th scope="col">Value</th></tr></thead>
    <tbody>{{#figures}}<tr><td>{{name}}</td><td>{{value}}</td></tr>{{/figures}}</tbody></table>
    </section>
    """

    static let users = """
    <form method="get" action="/admin/users" class="inline" role="search">
    <label for="q">Search</label> <input id="q" name="q" type="search" value="{{query}}"> <button type="submit">Search</button>
    </form>
    <p>{{total}} accounts; page {{page}} of {{pages}}.</p>
    <table><thead><tr><th scope="col">Account</th><th scope="col">Sessions</th></tr></thead>
    <tbody>
    {{#accounts}}<tr><td><a href="/admin/users/{{link}}">{{jid}}</a></td><td>{{sessions}}</td></tr>{{/accounts}}
    {{#empty}}<tr><td colspan="2">No accounts match.</td></tr>{{/empty}}
    </tbody></table>
    <nav aria-label="Pages" class="pages">{{#previous}}<a href="{{previous}}" rel="prev">Previous</a>{{/previous}} {{#next}}<a href="{{next}}" rel="next">Next</a>{{/next}}</nav>
    <h2>New account</h2>
    <form method="post" action="/admin/users" class="card">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <p><label for="new-jid">Username or JID</label> <input id="new-jid" name="jid" type="text" required autocomplete="off"></p>
    <p><label for="new-password">Password</label> <input id="new-password" name="password" type="password" required autocomplete="new-password"></p>
    <p><button type="submit">Create</button></p>
    </form>
    """

    static let user = """
    {{#disabled}}<p class="error">This account is disabled.</p>{{/disabled}}
    <h2>Sessions</h2>
    {{#hasSessions}}
    <table><thead><tr><th scope="col">Resource</th><th scope="col">Address</th><th scope="col">Via</th><th scope="col">Presence</th><th scope="col">Idle</th></tr></thead>
    <tbody>{{#sessions}}<tr><td>{{resource}}</td><td>{{address}}</td><td>{{listener}}</td><td>{{presence}}</td><td>{{idle}}</td></tr>{{/sessions}}</tbody></table>
    {{/hasSessions}}
    {{^hasSessions}}<p>Not online.</p>{{/hasSessions}}
    <h2>vCard</h2>
    {{#hasVCard}}<dl class="figures"><div><dt>Name</dt><dd>{{fullName}}</dd></div><div><dt>Nickname</dt><dd>{{nickname}}</dd></div><div><dt>Email</dt><dd>{{email}}</dd></div></dl>{{/hasVCard}}
    {{^hasVCard}}<p>No vCard.</p>{{/hasVCard}}
    <h2>Roster</h2>
    {{#hasRoster}}
    <table><thead><tr><th scope="col">Contact</th><th scope="col">Name</th><th scope="col">Subscription</th><th scope="col">Groups</th></tr></thead>
    <tbody>{{#roster}}<tr><td>{{jid}}</td><td>{{name}}</td><td>{{subscription}}</td><td>{{groups}}</td></tr>{{/roster}}</tbody></table>
    {{/hasRoster}}
    {{^hasRoster}}<p>No contacts.</p>{{/hasRoster}}
    <h2>Password</h2>
    <form method="post" action="/admin/users/{{link}}/password" class="card">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <p><label for="password">New password</label> <input id="password" name="password" type="password" required autocomplete="new-password"></p>
    <p><button type="submit">Set password</button></p>
    </form>
    <h2>Delete</h2>
    <form method="post" action="/admin/users/{{link}}/delete" class="card danger">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <p><input id="sure" name="sure" type="checkbox" required> <label for="sure">Delete {{jid}} with its roster, messages and data, and end its sessions</label></p>
    <p><button type="submit">Delete account</button></p>
    </form>
    """

    static let sessions = """
    {{#truncated}}<p>Showing the first {{shown}} of {{total}} sessions, by JID (the API lists them all the same way).</p>{{/truncated}}
    <table><thead><tr><th scope="col">Session</th><th scope="col">Address</th><th scope="col">Via</th><th scope="col">TLS</th><th scope="col">Client</th><th scope="col">Presence</th><th scope="col">Idle</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
    <tbody>
    {{#sessions}}<tr><td>{{jid}}</td><td>{{address}}</td><td>{{listener}}</td><td>{{tls}}</td><td>{{client}}</td><td>{{presence}}</td><td>{{idle}}</td>
    <td><form method="post" action="/admin/sessions/kick"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="jid" value="{{jid}}"><button type="submit" aria-label="Kick {{jid}}">Kick</button></form></td></tr>{{/sessions}}
    {{^sessions}}<tr><td colspan="8">Nobody is online.</td></tr>{{/sessions}}
    </tbody></table>
    """

    static let rooms = """
    {{#truncated}}<p>Showing the first 1000 of {{total}} rooms, by JID.</p>{{/truncated}}
    <table><thead><tr><th scope="col">Room</th><th scope="col">Name</th><th scope="col">Occupants</th><th scope="col">Kind</th><th scope="col">Listed</th></tr></thead>
    <tbody>
    {{#rooms}}<tr><td><a href="/admin/rooms/{{link}}">{{jid}}</a></td><td>{{name}}</td><td>{{occupants}}</td><td>{{kind}}{{#locked}} (locked){{/locked}}</td><td>{{public}}</td></tr>{{/rooms}}
    {{^rooms}}<tr><td colspan="5">No rooms.</td></tr>{{/rooms}}
    </tbody></table>
    <h2>New room</h2>
    <form method="post" action="/admin/rooms" class="card">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <p><label for="room-jid">Room JID</label> <input id="room-jid" name="jid" type="text" required placeholder="name@{{service}}"></p>
    <p><label for="room-title">Name</label> <input id="room-title" name="title" type="text"></p>
    <p><label for="room-owner">Owner (empty: the first administrator)</label> <input id="room-owner" name="owner" type="text"></p>
    <p><button type="submit">Create room</button></p>
    </form>
    """

    static let room = """
    <dl class="figures">
    <div><dt>Name</dt><dd>{{name}}</dd></div><div><dt>Subject</dt><dd>{{subject}}</dd></div><div><dt>Description</dt><dd>{{description}}</dd></div>
    <div><dt>Kind</dt><dd>{{kind}}, {{public}}</dd></div>
    {{#settings}}<div><dt>{{name}}</dt><dd>{{value}}</dd></div>{{/settings}}
    </dl>
    <h2>Occupants</h2>
    {{#hasOccupants}}
    <table><thead><tr><th scope="col">Nickname</th><th scope="col">Account</th><th scope="col">Role</th><th scope="col">Affiliation</th></tr></thead>
    <tbody>{{#occupantList}}<tr><td>{{nickname}}</td><td>{{jid}}</td><td>{{role}}</td><td>{{affiliation}}</td></tr>{{/occupantList}}</tbody></table>
    {{/hasOccupants}}
    {{^hasOccupants}}<p>Empty.</p>{{/hasOccupants}}
    <h2>Affiliations</h2>
    <table><thead><tr><th scope="col">Account</th><th scope="col">Affiliation</th></tr></thead>
    <tbody>{{#affiliations}}<tr><td>{{jid}}</td><td>{{affiliation}}</td></tr>{{/affiliations}}</tbody></table>
    <h2>Destroy</h2>
    <form method="post" action="/admin/rooms/{{link}}/destroy" class="card danger">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <p><label for="reason">Reason told to the occupants</label> <input id="reason" name="reason" type="text"></p>
    <p><input id="sure" name="sure" type="checkbox" required> <label for="sure">Destroy {{jid}} and its archive</label></p>
    <p><button type="submit">Destroy room</button></p>
    </form>
    """

    static let config = """
    <p>The settings in effect (the config file's keys, defaults where it sets nothing); secrets are masked.</p>
    <table><thead><tr><th scope="col">Key</th><th scope="col">Value</th></tr></thead>
    <tbody>{{#settings}}<tr><td><code>{{key}}</code></td><td>{{value}}</td></tr>{{/settings}}</tbody></table>
    """

    static let logs = """
    <p>The most recent warnings and errors, newest first.</p>
    <table><thead><tr><th scope="col">Time</th><th scope="col">Level</th><th scope="col">Message</th><th scope="col">Details</th></tr></thead>
    <tbody>{{#lines}}<tr><td>{{time}}</td><td>{{level}}</td><td>{{message}}</td><td>{{metadata}}</td></tr>{{/lines}}
    {{^lines}}<tr><td colspan="4">Nothing at warning or above.</td></tr>{{/lines}}</tbody></table>
    """

    static let stylesheet = """
    :root { color-scheme: light dark; --accent: #2457a6; }
    body { font: 16px/1.45 system-ui, sans-serif; margin: 0; }
    header { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; padding: .6rem 1rem; background: var(--accent); color: #fff; }
    header a { color: #fff; }
    .brand { font-weight: bold; text-decoration: none; }
    nav ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; margin: 0; padding: 0; }
    nav a[aria-current] { font-weight: bold; text-decoration: underline; }
    .logout { margin-left: auto; }
    main { padding: 0 1rem 2rem; max-width: 72rem; }
    table { border-collapse: collapse; width: 100%; display: block; overflow-x: auto; }
    th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #8884; vertical-align: top; }
    .figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(13rem, 1fr)); gap: .5rem; }
    .figures div { border: 1px solid #8886; border-radius: .4rem; padding: .4rem .6rem; }
    dt { font-size: .85rem; opacity: .8; } dd { margin: 0; font-weight: bold; overflow-wrap: anywhere; }
    .card { border: 1px solid #8886; border-radius: .4rem; padding: .2rem 1rem; max-width: 32rem; }
    .danger { border-color: #b33; }
    label { display: inline-block; min-width: 8rem; }
    input[type=text], input[type=password], input[type=search] { font: inherit; padding: .3rem; max-width: 100%; }
    button { font: inherit; padding: .3rem .8rem; }
    .notice { background: #2a72; padding: .5rem; } .error { background: #c332; padding: .5rem; }
    canvas { max-width: 100%; height: auto; border: 1px solid #8886; }
    .legend .sessions { color: #2457a6; } .legend .messages { color: #c2561a; }
    .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
    """

    /// Draws the dashboard's chart from `/admin/api/history` every five seconds (the console's only script).
    static let chartScript = """
    (function () {
      const canvas = document.getElementById('chart');
      if (!canvas) return;
      const context = canvas.getContext('2d');
      function line(points, value, color, top) {
        if (points.length < 2) return;
        const max = Math.max(1, ...points.map(value));
        context.strokeStyle = color; context.lineWidth = 2; context.beginPath();
        points.forEach(function (point, index) {
          const x = index * (canvas.width - 1) / (points.length - 1);
          const y = canvas.height - 4 - value(point) * (canvas.height - 8) / max;
          if (index === 0) context.moveTo(x, y); else context.lineTo(x, y);
        });
        context.stroke();
        context.fillStyle = color; context.fillText('max ' + max.toFixed(top ? 0 : 1), 4, top ? 12 : 26);
      }
      function draw(points) {
        context.clearRect(0, 0, canvas.width, canvas.height);
        line(points, function (p) { return p.sessions; }, '#2457a6', true);
        line(points, function (p) { return p.messagesPerSecond; }, '#c2561a', false);
        const last = points[points.length - 1];
        if (last) {
          document.getElementById('sessions').textContent = last.sessions;
          document.getElementById('rate').textContent = last.messagesPerSecond.toFixed(1);
        }
      }
      function refresh() {
        fetch('/admin/api/history', { credentials: 'same-origin' })
          .then(function (response) { return response.ok ? response.json() : []; })
          .then(draw).catch(function () {});
      }
      refresh();
      setInterval(refresh, 5000);
    })();
    """
}
