// cinemesh edge at scale: nginx checks the same signed media URLs as the Python edge
// (src/cinemesh/contracts/signed_urls.py), then serves the file itself with sendfile.
//
//   /e/{exp}/{tok}/{scope}/{file...}
//   tok   = base64url(HMAC-SHA256(key, "{exp}:/{scope}/")), no padding
//   scope = {asset_id} or {asset_id}~{max_height} (a capped view: the master playlist lists
//           only renditions at most that tall, and the taller renditions' files are refused)
//
// The key comes from the environment (`env CINEMESH_EDGE_KEY;` in nginx.conf), the media root
// from `$edge_media_root`.

const crypto = require('crypto');
const fs = require('fs');

const SCOPE = /^([A-Za-z0-9_-]{1,64})(?:~([1-9][0-9]{1,4}))?$/;
const FILE_PART = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const EXP = /^[0-9]{1,12}$/;
const RESOLUTION = /RESOLUTION=(\d+)x(\d+)/;
const CORS = 'Access-Control-Allow-Origin';

function sameText(a, b) {
    // constant time for strings of the same length; the length of a token is public
    if (a.length !== b.length) {
        return false;
    }
    var diff = 0;
    for (var i = 0; i < a.length; i++) {
        diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
    }
    return diff === 0;
}

function verify(r) {
    var path = r.variables.request_uri.split('?')[0];
    if (/[%\\\0]/.test(path) || path.indexOf('//') !== -1) {
        return null;
    }
    var parts = path.split('/');
    if (parts.length < 6 || parts[0] !== '' || parts[1] !== 'e') {
        return null;
    }
    var exp = parts[2];
    var presented = parts[3];
    var scope = parts[4];
    var files = parts.slice(5);
    var matched = SCOPE.exec(scope);
    if (!EXP.test(exp) || !matched || files.length > 4) {
        return null;
    }
    for (var i = 0; i < files.length; i++) {
        if (!FILE_PART.test(files[i])) {
            return null;
        }
    }
    var key = process.env.CINEMESH_EDGE_KEY || '';
    if (!key) {
        return null;
    }
    var expected = crypto.createHmac('sha256', key)
        .update(exp + ':/' + scope + '/')
        .digest('base64url')
        .replace(/=+$/, '');
    if (!sameText(expected, presented) || Number(exp) < Date.now() / 1000) {
        return null;
    }
    return {asset: matched[1], cap: matched[2] ? Number(matched[2]) : 0, files: files};
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

function refuse(r, status, code, message) {
    r.headersOut['Content-Type'] = 'application/json';
    r.headersOut[CORS] = '*';
    r.return(status, JSON.stringify({error: {code: code, message: message}}));
}

function media(r) {
    if (r.method === 'OPTIONS') {
        r.headersOut[CORS] = '*';
        r.headersOut['Access-Control-Allow-Methods'] = 'GET, HEAD, OPTIONS';
        r.headersOut['Access-Control-Allow-Headers'] = 'Range, If-None-Match, If-Modified-Since';
        r.headersOut['Access-Control-Max-Age'] = '86400';
        r.return(204);
        return;
    }
    if (r.method !== 'GET' && r.method !== 'HEAD') {
        refuse(r, 405, 'METHOD_NOT_ALLOWED', 'media is read with GET or HEAD');
        return;
    }
    var media = verify(r);
    if (media === null) {
        refuse(r, 403, 'FORBIDDEN', 'this media URL is not valid or has expired');
        return;
    }
    if (media.cap) {
        var view = ladder(r.variables.edge_media_root, media.asset);
        if (view !== null && media.files.length === 1 && media.files[0] === 'master.m3u8') {
            r.headersOut['Content-Type'] = 'application/vnd.apple.mpegurl';
            r.headersOut['Cache-Control'] = 'public, max-age=60';
            r.headersOut[CORS] = '*';
            r.return(200, cappedMaster(view, media.cap));
            return;
        }
        if (view !== null && media.files.length > 1 && !folderAllowed(view, media.files[0], media.cap)) {
            refuse(r, 403, 'ABOVE_PLAN', "this rendition is above your plan's resolution");
            return;
        }
    }
    r.internalRedirect('/_media/' + media.asset + '/' + media.files.join('/'));
}

export default {media, verify};
