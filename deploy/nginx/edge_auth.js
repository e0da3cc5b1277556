// cinemesh edge at scale: nginx checks the same signed media URLs as the Python edge
// (src/cinemesh/contracts/signed_urls.py), then serves the file itself with sendfile.
//
//   /e/{exp}/{tok}/{scope}/{file...}
//   tok   = base64url(HMAC-SHA256(key, "{exp}:/{scope}/")), no padding
//   scope = {asset_id} or {asset_id}~{max_height} (a capped view: the master playlist lists
//           only renditions at most that tall, and the taller renditions' files are refused)
//
// The key comes from the environment (`env CINEMESH_EDGE_KEY;` in nginx.conf), read once when
// nginx loads the configuration (the top level of this module runs then; every request's copy
// of the VM starts from it); the media root from `$edge_media_root`.
//
// The hot path is `check`, a `js_set` variable: "ok" lets nginx serve the file itself from
// the same location (sendfile, Range, ETag, no internal redirect); anything else goes to
// `media`, a `js_content` handler, which answers: the capped master playlist, a 403 or 405
// with its JSON body, a CORS preflight.

const crypto = require('crypto');
const fs = require('fs');

// /e/{exp}/{tok}/{asset}[~{cap}]/{file parts}[?query]: each file part as FILE_PART in
// signed_urls.py (no leading dot, so never '.' or '..'), at most four of them
// (a literal: njs 0.7 compiled a `new RegExp(...)` made at the top level again for every
// request, pcre2_compile in perf; a literal is compiled once)
const MEDIA_PATH =
    /^\/e\/([0-9]{1,12})\/([A-Za-z0-9_-]{1,128})\/([A-Za-z0-9_-]{1,64})(?:~([1-9][0-9]{1,4}))?\/((?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\/){0,3}[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})(?:[?].*)?$/;
const RESOLUTION = /RESOLUTION=(\d+)x(\d+)/;
const CORS = 'Access-Control-Allow-Origin';
const KEY = process.env.CINEMESH_EDGE_KEY || '';

function sameToken(expected, presented) {
    // a comparison that tells nothing about where two tokens differ, without a loop over
    // their characters (measured: such a loop was a third of the check's time): compare the
    // MACs of both under the key, which nobody can aim a guess at
    return crypto.createHmac('sha256', KEY).update(expected).digest('base64url') ===
        crypto.createHmac('sha256', KEY).update(presented).digest('base64url');
}

function verify(r) {
    // one expression checks the whole shape (no encoded or doubled separators, no '..', at
    // most four file parts inside the scope's folder): splitting and testing each part was
    // most of the check's time
    var matched = MEDIA_PATH.exec(r.variables.request_uri);
    if (matched === null) {
        return null;
    }
    var scope = matched[4] ? matched[3] + '~' + matched[4] : matched[3];
    if (!signedFor(matched[1], matched[2], scope)) {
        return null;
    }
    return {asset: matched[3], cap: matched[4] ? Number(matched[4]) : 0, file: matched[5]};
}

function heightOf(streamInf) {
    var found = RESOLUTION.exec(streamInf);
    return found ? Number(found[2]) : 0;
}

function ladder(root, asset) {
    var master;
    try {
        master = fs.readFileSync(root + '/' + asset + '/master.m3u8', 'utf8');
    } catch (e) {
        return null;
    }
    return parseLadder(master);
}

// a master playlist's lines and its variants (each its STREAM-INF line, URI and height); the
// caching edge (edge_cache.js) reads it from the origin and caps it with the same functions
function parseLadder(master) {
    var lines = master.split('\n');
    var variants = [];
    var i;
    for (i = 0; i + 1 < lines.length; i++) {
        if (lines[i].indexOf('#EXT-X-STREAM-INF:') === 0) {
            variants.push({inf: lines[i], uri: lines[i + 1].trim(), height: heightOf(lines[i])});
        }
    }
    return {lines: lines, variants: variants};
}

function cappedMaster(view, cap) {
    var kept = [];
    var smallest = null;
    var keptVariant = false;
    for (var i = 0; i < view.lines.length; i++) {
        var line = view.lines[i];
        if (line.indexOf('#EXT-X-STREAM-INF:') === 0 && i + 1 < view.lines.length) {
            var height = heightOf(line);
            if (height <= cap) {
                kept.push(line, view.lines[i + 1]);
                keptVariant = true;
            } else if (smallest === null || height < smallest.height) {
                smallest = {height: height, pair: [line, view.lines[i + 1]]};
            }
            i++;
            continue;
        }
        kept.push(line);
    }
    if (!keptVariant && smallest !== null) {
        kept = kept.concat(smallest.pair);
    }
    return kept.join('\n').replace(/\n*$/, '\n');
}

function folderAllowed(view, folder, cap) {
    var smallest = Infinity;
    var height = -1;
    for (var i = 0; i < view.variants.length; i++) {
        var v = view.variants[i];
        smallest = Math.min(smallest, v.height);
        if (v.uri.split('/')[0] === folder && v.uri.indexOf('/') !== -1) {
            height = Math.max(height, v.height);
        }
    }
    return height < 0 || height <= cap || height === smallest;
}

function signedFor(exp, presented, scope) {
    if (!KEY) {
        return false;
    }
    var expected = crypto.createHmac('sha256', KEY)
        .update(exp + ':/' + scope + '/')
        .digest('base64url');
    if (expected.charAt(expected.length - 1) === '=') {
        expected = expected.replace(/=+$/, '');
    }
    return sameToken(expected, presented) && Number(exp) >= Date.now() / 1000;
}

function check(r) {
    // "ok" when nginx may serve the file as it is, "" when `media` must answer. Only the
    // location whose expression is MEDIA_PATH's (edge.conf) asks, so the shape is checked
    // already, in nginx's compiled expression (matching it again here was a third of the
    // check's time); what is left is that the raw path is the one nginx matched (nothing
    // decoded, merged or resolved), the token and the cap.
    if (r.method !== 'GET' && r.method !== 'HEAD') {
        return '';
    }
    var uri = r.uri;
    var raw = r.variables.request_uri;
    var query = raw.indexOf('?');
    if ((query === -1 ? raw : raw.slice(0, query)) !== uri) {
        return '';
    }
    var parts = uri.split('/');
    var scope = parts[4];
    if (!signedFor(parts[2], parts[3], scope)) {
        return '';
    }
    var tilde = scope.indexOf('~');
    if (tilde !== -1) {
        var cap = Number(scope.slice(tilde + 1));
        if (parts.length === 6 && parts[5] === 'master.m3u8') {
            return '';
        }
        if (parts.length > 6) {
            var view = ladder(r.variables.edge_media_root, scope.slice(0, tilde));
            if (view !== null && !folderAllowed(view, parts[5], cap)) {
                return '';
            }
        }
    }
    return 'ok';
}

function refuse(r, status, code, message) {
    r.headersOut['Content-Type'] = 'application/json';
    r.headersOut[CORS] = '*';
    r.return(status, JSON.stringify({error: {code: code, message: message}}));
}

function preflight(r) {
    r.headersOut[CORS] = '*';
    r.headersOut['Access-Control-Allow-Methods'] = 'GET, HEAD, OPTIONS';
    r.headersOut['Access-Control-Allow-Headers'] = 'Range, If-None-Match, If-Modified-Since';
    r.headersOut['Access-Control-Max-Age'] = '86400';
    r.return(204);
}

// the verified media of a request, or null when it has been answered already: a CORS
// preflight, a 405 for another method, a 403 for a URL that is not signed or has expired
function admitted(r) {
    if (r.method === 'OPTIONS') {
        preflight(r);
        return null;
    }
    if (r.method !== 'GET' && r.method !== 'HEAD') {
        refuse(r, 405, 'METHOD_NOT_ALLOWED', 'media is read with GET or HEAD');
        return null;
    }
    var media = verify(r);
    if (media === null) {
        refuse(r, 403, 'FORBIDDEN', 'this media URL is not valid or has expired');
    }
    return media;
}

function sendCappedMaster(r, view, cap) {
    r.headersOut['Content-Type'] = 'application/vnd.apple.mpegurl';
    r.headersOut['Cache-Control'] = 'public, max-age=60';
    r.headersOut[CORS] = '*';
    r.return(200, cappedMaster(view, cap));
}

function media(r) {
    var media = admitted(r);
    if (media === null) {
        return;
    }
    var files = media.file.split('/');
    if (media.cap) {
        var view = ladder(r.variables.edge_media_root, media.asset);
        if (view !== null && media.file === 'master.m3u8') {
            sendCappedMaster(r, view, media.cap);
            return;
        }
        if (view !== null && files.length > 1 && !folderAllowed(view, files[0], media.cap)) {
            refuse(r, 403, 'ABOVE_PLAN', "this rendition is above your plan's resolution");
            return;
        }
    }
    r.internalRedirect('/_media/' + media.asset + '/' + media.file);
}

// edge.conf uses check and media; edge_cache.js the rest
export default {
    admitted, check, folderAllowed, media, parseLadder, refuse, sendCappedMaster,
};
