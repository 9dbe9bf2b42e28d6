/* earnloop passkeys (ADR 0031): add a passkey (#passkey-register) and confirm an action with one
   (#passkey-confirm) through WebAuthn. Our own, no dependencies. The server answers JSON:
   {"redirect": url} to go on, {"error": message} to show; any other answer replaces the page. */
(function () {
  "use strict";

  function toBuffer(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(base64 + "===".slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer), raw = "";
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function post(form, url, body) {
    var token = form.querySelector('input[name="csrftoken"]');
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"content-type": "application/json", "accept": "application/json",
                "x-csrftoken": token ? token.value : ""},
      body: JSON.stringify(body)
    });
  }

  async function follow(response, form, status) {
    if ((response.headers.get("content-type") || "").indexOf("application/json") === -1) {
      var page = await response.text();
      document.open(); document.write(page); document.close();
      return;
    }
    var body = await response.json();
    if (body.redirect) window.location.assign(body.redirect);
    else status.textContent = body.error || form.dataset.failed;
  }

  function credentialJSON(credential) {
    var response = credential.response, out = {};
    ["clientDataJSON", "attestationObject", "authenticatorData", "signature", "userHandle"].forEach(function (key) {
      if (response[key]) out[key] = toText(response[key]);
    });
    if (response.getTransports) out.transports = response.getTransports();
    return {id: credential.id, rawId: toText(credential.rawId), type: credential.type, response: out,
            authenticatorAttachment: credential.authenticatorAttachment || null,
            clientExtensionResults: credential.getClientExtensionResults()};
  }

  function withBuffers(options) {
    options.challenge = toBuffer(options.challenge);
    if (options.user) options.user.id = toBuffer(options.user.id);
    (options.excludeCredentials || []).concat(options.allowCredentials || []).forEach(function (c) {
      c.id = toBuffer(c.id);
    });
    return options;
  }

  async function register(form, status) {
    var begun = await post(form, form.dataset.options, {});
    if (!begun.ok) return follow(begun, form, status);
    var started = await begun.json();
    var credential = await navigator.credentials.create({publicKey: withBuffers(started.options)});
    var name = form.querySelector('input[name="name"]').value;
    var body = {challenge_id: started.challenge_id, name: name, credential: credentialJSON(credential)};
    return follow(await post(form, form.action, body), form, status);
  }

  async function confirm(form, status) {
    var options = withBuffers(JSON.parse(form.dataset.options));
    var credential = await navigator.credentials.get({publicKey: options});
    return follow(await post(form, form.action, credentialJSON(credential)), form, status);
  }

  function wire(id, run) {
    var form = document.getElementById(id);
    if (!form) return;
    var status = document.getElementById("passkey-status");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!window.PublicKeyCredential) { status.textContent = form.dataset.unsupported; return; }
      var button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      status.textContent = "";
      run(form, status)
        .catch(function () { status.textContent = form.dataset.cancelled; })
        .finally(function () { button.disabled = false; });
    });
  }

  wire("passkey-register", register);
  wire("passkey-confirm", confirm);
})();
