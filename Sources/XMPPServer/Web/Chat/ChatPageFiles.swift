/// The files of the `/chat` page (``ChatPage``): compiled into the server, nothing to install.
enum ChatPageFiles {
    static let html = """
    <!DOCTYPE html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>xmppd web chat</title>
    <link rel="stylesheet" href="/chat/chat.css">
    <script src="/chat/chat.js" defer></script>
    </head>
    <body>
    <header><h1>Web chat</h1><p id="status" role="status" aria-live="polite">Not connected.</p></header>
    <form id="login">
    <p><label for="jid">JID</label> <input id="jid" type="text" autocomplete="username" required placeholder="you@example.org"></p>
    <p><label for="password">Password</label> <input id="password" type="password" autocomplete="current-password" required></p>
    <p><button id="connect" type="submit">Log in</button></p>
    </form>
    <div id="app" hidden>
    <nav aria-labelledby="contacts-heading">
    <h2 id="contacts-heading">Contacts</h2>
    <ul id="roster"></ul>
    <ul id="requests" aria-label="Contact requests"></ul>
    <form id="add-contact"><label for="contact-jid">Add contact</label> <input id="contact-jid" type="text" required placeholder="friend@example.org"> <button type="submit">Add</button></form>
    <h2>Rooms</h2>
    <ul id="rooms"></ul>
    <form id="join-room">
    <p><label for="room-jid">Room</label> <input id="room-jid" type="text" required placeholder="room@conference.example.org"></p>
    <p><label for="room-nick">Nickname</label> <input id="room-nick" type="text" required></p>
    <p><button id="join" type="submit">Join</button></p>
    </form>
    <p><button id="logout" type="button">Log out</button></p>
    </nav>
    <main aria-labelledby="conversation-heading">
    <h2 id="conversation-heading">Pick a contact or a room</h2>
    <ol id="log" aria-live="polite"></ol>
    <form id="compose" hidden><label for="message">Message</label> <input id="message" type="text" autocomplete="off" required> <button id="send" type="submit">Send</button></form>
    </main>
    </div>
    </body>
    </html>
    """

    static let stylesheet = """
    :root { color-scheme: light dark; }
    body { font: 16px/1.45 system-ui, sans-serif; margin: 0 auto; padding: 0 1rem 1rem; max-width: 60rem; }
    header { display: flex; flex-wrap: wrap; gap: 0 1rem; align-items: baseline; }
    #app:not([hidden]) { display: grid; grid-template-columns: minmax(12rem, 1fr) 3fr; gap: 1rem; }
    @media (max-width: 40rem) { #app:not([hidden]) { grid-template-columns: 1fr; } }
    ul { list-style: none; padding: 0; }
    #roster button, #rooms button { font: inherit; background: none; border: 0; padding: .2rem; cursor: pointer; text-align: left; }
    #roster button[aria-current], #rooms button[aria-current] { font-weight: bold; text-decoration: underline; }
    .presence { font-size: .85rem; opacity: .8; margin-left: .3rem; }
    .online::before { content: "● "; color: #2a2; } .offline::before { content: "○ "; }
    #log { list-style: none; border: 1px solid #8886; border-radius: .4rem; min-height: 12rem; max-height: 60vh; overflow-y: auto; padding: .5rem 1rem; }
    #log .from { font-weight: bold; margin-right: .4rem; } #log .notice { font-style: italic; opacity: .8; }
    input { font: inherit; padding: .3rem; max-width: 100%; } button { font: inherit; }
    #compose { display: flex; gap: .5rem; margin-top: .5rem; } #compose input { flex: 1; }
    """

    static let script = #"""
    (function () {
      'use strict';
      const NS = {
        framing: 'urn:ietf:params:xml:ns:xmpp-framing', sasl: 'urn:ietf:params:xml:ns:xmpp-sasl',
        bind: 'urn:ietf:params:xml:ns:xmpp-bind', client: 'jabber:client', roster: 'jabber:iq:roster',
        muc: 'http://jabber.org/protocol/muc', mucUser: 'http://jabber.org/protocol/muc#user', ping: 'urn:xmpp:ping',
        stanzas: 'urn:ietf:params:xml:ns:xmpp-stanzas'
      };
      const $ = function (id) { return document.getElementById(id); };
      const factory = document.implementation.createDocument(null, null, null);
      const encoder = new TextEncoder();
      let socket = null, account = null, domain = null, phase = 'closed', scram = null, counter = 0;
      const waiting = new Map();        // IQ id -> callback
      const contacts = new Map();       // bare JID -> { name, resources: Map(resource -> show) }
      const rooms = new Map();          // room JID -> nickname
      const logs = new Map();           // JID -> [{ from, text, notice }]
      let current = null;

      function status(text) { $('status').textContent = text; }
      function bare(jid) { return (jid || '').split('/')[0]; }
      function resource(jid) { const at = (jid || '').indexOf('/'); return at < 0 ? '' : jid.slice(at + 1); }
      function node(name, ns, attributes, children) {
        const element = factory.createElementNS(ns, name);
        Object.entries(attributes || {}).forEach(function (entry) { if (entry[1] != null) element.setAttribute(entry[0], entry[1]); });
        (children || []).forEach(function (child) {
          element.appendChild(typeof child === 'string' ? factory.createTextNode(child) : child);
        });
        return element;
      }
      function send(element) { socket.send(new XMLSerializer().serializeToString(element)); }
      function child(element, name, ns) {
        return Array.from(element.children).find(function (c) { return c.localName === name && (!ns || c.namespaceURI === ns); });
      }
      function iq(type, payload, to, callback) {
        const id = 'web' + (++counter);
        if (callback) waiting.set(id, { callback: callback, to: to });
        send(node('iq', NS.client, { type: type, id: id, to: to }, payload ? [payload] : []));
      }

      // SASL: SCRAM-SHA-256 with WebCrypto where the page is a secure context, PLAIN otherwise.
      function base64(bytes) { return btoa(String.fromCharCode.apply(null, Array.from(bytes))); }
      function unbase64(text) { return Uint8Array.from(atob(text), function (c) { return c.charCodeAt(0); }); }
      async function hmac(key, data) {
        const imported = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
        return new Uint8Array(await crypto.subtle.sign('HMAC', imported, typeof data === 'string' ? encoder.encode(data) : data));
      }
      async function scramFinal(challenge) {
        const fields = Object.fromEntries(challenge.split(',').map(function (p) { return [p[0], p.slice(2)]; }));
        if (!fields.r || !fields.r.startsWith(scram.nonce)) throw new Error('the server changed the nonce');
        const key = await crypto.subtle.importKey('raw', encoder.encode(scram.password), 'PBKDF2', false, ['deriveBits']);
        const salted = new Uint8Array(await crypto.subtle.deriveBits(
          { name: 'PBKDF2', salt: unbase64(fields.s), iterations: parseInt(fields.i, 10), hash: 'SHA-256' }, key, 256));
        const clientKey = await hmac(salted, 'Client Key');
        const storedKey = new Uint8Array(await crypto.subtle.digest('SHA-256', clientKey));
        const withoutProof = 'c=biws,r=' + fields.r;
        const message = scram.first + ',' + challenge + ',' + withoutProof;
        const signature = await hmac(storedKey, message);
        const proof = clientKey.map(function (b, i) { return b ^ signature[i]; });
        scram.serverSignature = base64(await hmac(await hmac(salted, 'Server Key'), message));
        return withoutProof + ',p=' + base64(proof);
      }
      function authenticate(features) {
        const mechanisms = Array.from((child(features, 'mechanisms', NS.sasl) || { children: [] }).children).map(function (m) { return m.textContent; });
        const user = account.split('@')[0], password = $('password').value;
        if (mechanisms.includes('SCRAM-SHA-256') && window.crypto && crypto.subtle) {
          const nonce = base64(crypto.getRandomValues(new Uint8Array(18)));
          const first = 'n=' + user.replace(/=/g, '=3D').replace(/,/g, '=2C') + ',r=' + nonce;
          scram = { nonce: nonce, first: first, password: password };
          send(node('auth', NS.sasl, { mechanism: 'SCRAM-SHA-256' }, [btoa('n,,' + first)]));
        } else if (mechanisms.includes('PLAIN')) {
          scram = null;
          const bytes = encoder.encode('\u0000' + user + '\u0000' + password);
          send(node('auth', NS.sasl, { mechanism: 'PLAIN' }, [base64(bytes)]));
        } else {
          fail('the server offers no mechanism this page knows');
        }
      }

      function open() { send(node('open', NS.framing, { to: domain, version: '1.0' })); }
      function fail(text) { status('Not connected: ' + text); if (socket) socket.close(); }

      function reset() {
        waiting.clear(); contacts.clear(); rooms.clear(); logs.clear();
        current = null; scram = null;
        $('requests').replaceChildren(); $('log').replaceChildren();
        $('conversation-heading').textContent = 'Pick a contact or a room';
        $('compose').hidden = true;
      }

      function connect(event) {
        event.preventDefault();
        reset();
        account = bare($('jid').value.trim());
        domain = account.split('@')[1];
        if (!domain) { status('A JID is user@domain.'); return; }
        const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
        socket = new WebSocket(scheme + '//' + location.host + '/xmpp-websocket', 'xmpp');
        phase = 'sasl';
        status('Connecting…');
        socket.onopen = open;
        socket.onmessage = function (frame) { receive(frame.data).catch(function (error) { fail(error.message); }); };
        socket.onclose = function () {
          if (phase !== 'closed') status(phase === 'online' ? 'Disconnected.' : $('status').textContent);
          phase = 'closed';
          reset();
          $('app').hidden = true; $('login').hidden = false;
        };
      }

      async function receive(text) {
        const element = new DOMParser().parseFromString(text, 'text/xml').documentElement;
        if (!element || element.localName === 'parsererror') return;
        switch (element.localName) {
        case 'open': return;
        case 'close': socket.close(); return;
        case 'features':
          if (phase === 'sasl') return authenticate(element);
          if (phase === 'bind') {
            return iq('set', node('bind', NS.bind, {}, [node('resource', NS.bind, {}, ['web'])]), null, function (result) {
              if (result.getAttribute('type') !== 'result') return fail('binding failed');
              account = bare(child(child(result, 'bind', NS.bind), 'jid', NS.bind).textContent);
              loadRoster();
            });
          }
          return;
        case 'challenge':
          return send(node('response', NS.sasl, {}, [btoa(await scramFinal(atob(element.textContent)))]));
        case 'success':
          if (scram && atob(element.textContent || '') !== 'v=' + scram.serverSignature) return fail('the server did not prove it knows the password');
          phase = 'bind';
          return open();
        case 'failure': return fail('wrong JID or password');
        case 'iq': return receiveIQ(element);
        case 'message': return receiveMessage(element);
        case 'presence': return receivePresence(element);
        case 'error': return fail('stream error: ' + (element.firstElementChild ? element.firstElementChild.localName : ''));
        }
      }

      function loadRoster() {
        iq('get', node('query', NS.roster), null, function (result) {
          const query = child(result, 'query', NS.roster);
          if (query) Array.from(query.children).forEach(rosterItem);
          send(node('presence', NS.client));
          phase = 'online';
          status('Online as ' + account + ' (' + (scram ? 'SCRAM-SHA-256' : 'PLAIN') + ').');
          $('login').hidden = true; $('app').hidden = false;
          render();
        });
      }
      function rosterItem(item) {
        const jid = item.getAttribute('jid');
        if (item.getAttribute('subscription') === 'remove') { contacts.delete(jid); return; }
        const known = contacts.get(jid) || { resources: new Map() };
        known.name = item.getAttribute('name') || jid;
        contacts.set(jid, known);
      }
      function receiveIQ(element) {
        const id = element.getAttribute('id'), type = element.getAttribute('type'), from = element.getAttribute('from');
        // Answers and roster pushes come from the server or the account itself (RFC 6121 §2.1.6), never from others.
        const fromSelf = !from || bare(from) === account || from === domain;
        if ((type === 'result' || type === 'error') && waiting.has(id) && (fromSelf || waiting.get(id).to === from)) {
          const callback = waiting.get(id).callback;
          waiting.delete(id);
          return callback(element);
        }
        if (type === 'set' && child(element, 'query', NS.roster) && fromSelf) {
          Array.from(child(element, 'query', NS.roster).children).forEach(rosterItem);
          render();
          return send(node('iq', NS.client, { type: 'result', id: id }));
        }
        if (type === 'get' && child(element, 'ping', NS.ping)) return send(node('iq', NS.client, { type: 'result', id: id, to: element.getAttribute('from') }));
        if (type === 'get' || type === 'set') {
          send(node('iq', NS.client, { type: 'error', id: id, to: element.getAttribute('from') }, [
            node('error', NS.client, { type: 'cancel' }, [node('service-unavailable', NS.stanzas)])]));
        }
      }
      function receiveMessage(element) {
        const body = child(element, 'body');
        const from = element.getAttribute('from') || '';
        if (element.getAttribute('type') === 'groupchat') {
          const room = bare(from);
          if (rooms.has(room) && body) note(room, resource(from) || room, body.textContent);
          else if (rooms.has(room) && child(element, 'subject')) note(room, null, 'Subject: ' + child(element, 'subject').textContent);
          return;
        }
        if (element.getAttribute('type') === 'error') return note(bare(from), null, 'Not delivered: ' + from);
        if (body) note(bare(from), bare(from), body.textContent);
      }
      function receivePresence(element) {
        const from = element.getAttribute('from') || '', type = element.getAttribute('type');
        const jid = bare(from);
        if (rooms.has(jid)) {
          const x = child(element, 'x', NS.mucUser);
          const destroyed = x && child(x, 'destroy');
          if (type === 'unavailable') {
            note(jid, null, destroyed ? 'The room was destroyed.' : resource(from) + ' left.');
            if (destroyed || resource(from) === rooms.get(jid)) { rooms.delete(jid); render(); }
          } else if (type !== 'error') {
            note(jid, null, resource(from) + ' is here.');
          } else {
            note(jid, null, 'Could not join the room.');
            rooms.delete(jid); render();
          }
          return;
        }
        if (type === 'subscribe') return request(jid);
        const contact = contacts.get(jid);
        if (!contact) return;
        if (type === 'unavailable') contact.resources.delete(resource(from));
        else if (!type) contact.resources.set(resource(from), (child(element, 'show') || { textContent: 'online' }).textContent);
        render();
      }
      function request(jid) {
        const item = document.createElement('li');
        item.textContent = jid + ' asks to see your presence ';
        [['Accept', 'subscribed'], ['Refuse', 'unsubscribed']].forEach(function (choice) {
          const button = document.createElement('button');
          button.type = 'button'; button.textContent = choice[0];
          button.onclick = function () {
            send(node('presence', NS.client, { to: jid, type: choice[1] }));
            if (choice[1] === 'subscribed' && !contacts.has(jid)) send(node('presence', NS.client, { to: jid, type: 'subscribe' }));
            item.remove();
          };
          item.append(button, ' ');
        });
        $('requests').append(item);
      }

      function note(jid, from, text) {
        if (!logs.has(jid)) logs.set(jid, []);
        const lines = logs.get(jid);
        lines.push({ from: from, text: text });
        if (lines.length > 500) lines.shift();
        if (jid === current) render();
        else if (from && !rooms.has(jid) && contacts.has(jid)) { contacts.get(jid).unread = true; render(); }
      }
      function render() {
        const roster = $('roster');
        roster.replaceChildren();
        Array.from(contacts.entries()).sort().forEach(function (entry) {
          const jid = entry[0], contact = entry[1];
          const item = document.createElement('li');
          item.dataset.jid = jid;
          const button = document.createElement('button');
          button.type = 'button';
          button.textContent = contact.name + (contact.unread ? ' •' : '');
          if (jid === current) button.setAttribute('aria-current', 'true');
          button.onclick = function () { contact.unread = false; show(jid); };
          const presence = document.createElement('span');
          const online = contact.resources.size > 0;
          presence.className = 'presence ' + (online ? 'online' : 'offline');
          presence.textContent = online ? Array.from(contact.resources.values())[0] : 'offline';
          item.append(button, presence);
          roster.append(item);
        });
        const list = $('rooms');
        list.replaceChildren();
        Array.from(rooms.keys()).sort().forEach(function (jid) {
          const item = document.createElement('li');
          item.dataset.jid = jid;
          const button = document.createElement('button');
          button.type = 'button'; button.textContent = jid;
          if (jid === current) button.setAttribute('aria-current', 'true');
          button.onclick = function () { show(jid); };
          item.append(button);
          list.append(item);
        });
        const log = $('log');
        log.replaceChildren();
        (logs.get(current) || []).forEach(function (line) {
          const item = document.createElement('li');
          if (line.from) {
            const from = document.createElement('span');
            from.className = 'from'; from.textContent = line.from;
            item.append(from, line.text);
          } else {
            item.className = 'notice'; item.textContent = line.text;
          }
          log.append(item);
        });
        log.scrollTop = log.scrollHeight;
      }
      function show(jid) {
        current = jid;
        $('conversation-heading').textContent = jid;
        $('compose').hidden = false;
        render();
        $('message').focus();
      }

      document.addEventListener('DOMContentLoaded', function () {
        $('login').addEventListener('submit', connect);
        $('compose').addEventListener('submit', function (event) {
          event.preventDefault();
          const text = $('message').value;
          if (!text || !current) return;
          const isRoom = rooms.has(current);
          send(node('message', NS.client, { to: current, type: isRoom ? 'groupchat' : 'chat' }, [node('body', NS.client, {}, [text])]));
          if (!isRoom) note(current, 'me', text);
          $('message').value = '';
        });
        $('join-room').addEventListener('submit', function (event) {
          event.preventDefault();
          const room = bare($('room-jid').value.trim()), nick = $('room-nick').value.trim();
          rooms.set(room, nick);
          send(node('presence', NS.client, { to: room + '/' + nick }, [node('x', NS.muc, {}, [node('history', NS.muc, { maxstanzas: '20' })])]));
          show(room);
        });
        $('add-contact').addEventListener('submit', function (event) {
          event.preventDefault();
          const jid = bare($('contact-jid').value.trim());
          iq('set', node('query', NS.roster, {}, [node('item', NS.roster, { jid: jid })]));
          send(node('presence', NS.client, { to: jid, type: 'subscribe' }));
          $('contact-jid').value = '';
        });
        $('logout').addEventListener('click', function () {
          send(node('close', NS.framing));
          phase = 'closed';
          status('Logged out.');
        });
      });
    })();
    """#
}
