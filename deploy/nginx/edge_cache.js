// cinemesh edge at scale as a cache of the S3 origin (edge_cache.conf): the signed URL is
// checked by edge_auth.js's `verify` (the same check as the plain nginx edge and the Python
// edge) before anything is looked up, then the file comes through nginx's proxy_cache
// (`/_origin/`), which asks the origin once per object however many miss it.
//
// A capped view (a scope `{asset}~{height}`) needs the asset's master playlist: it is read
// through the same cache (a subrequest), so the cap holds with no shared folder, and an asset
// whose master playlist is not in the origin yet (a publish under way) is not served.

import edge from 'edge_auth.js';

const CORS = 'Access-Control-Allow-Origin';
const RESOLUTION = /RESOLUTION=(\d+)x(\d+)/;
const STREAM = '#EXT-X-STREAM-INF:';

function refuse(r, status, code, message) {
    r.headersOut['Content-Type'] = 'application/json';
    r.headersOut[CORS] = '*';
    r.return(status, JSON.stringify({error: {code: code, message: message}}));
}

function heightOf(line) {
    var found = RESOLUTION.exec(line);
    return found ? Number(found[2]) : 0;
}

// the master playlist's variants, each its STREAM-INF line, its URI and its height
function variantsOf(lines) {
    var variants = [];
    for (var i = 0; i + 1 < lines.length; i++) {
        if (lines[i].indexOf(STREAM) === 0) {
            variants.push({index: i, uri: lines[i + 1].trim(), height: heightOf(lines[i])});
        }
    }
    return variants;
}

// the variants a cap lets through: those at most `cap` tall, or else the smallest one alone
function allowedOf(variants, cap) {
    var under = variants.filter(function (v) { return v.height <= cap; });
    if (under.length || !variants.length) {
        return under;
    }
    var smallest = variants.reduce(function (a, b) { return b.height < a.height ? b : a; });
    return [smallest];
}

function cappedMaster(lines, variants, allowed) {
    var dropped = {};
    variants.forEach(function (v) {
        if (allowed.indexOf(v) === -1) {
            dropped[v.index] = true;
            dropped[v.index + 1] = true;
        }
    });
    var kept = lines.filter(function (_line, i) { return !dropped[i]; });
    return kept.join('\n').replace(/\n*$/, '\n');
}

function folderRefused(variants, allowed, folder) {
    var named = variants.filter(function (v) {
        return v.uri.indexOf('/') !== -1 && v.uri.split('/')[0] === folder;
    });
    return named.length > 0 && !named.some(function (v) { return allowed.indexOf(v) !== -1; });
}

function preflight(r) {
    r.headersOut[CORS] = '*';
    r.headersOut['Access-Control-Allow-Methods'] = 'GET, HEAD, OPTIONS';
    r.headersOut['Access-Control-Allow-Headers'] = 'Range, If-None-Match, If-Modified-Since';
    r.headersOut['Access-Control-Max-Age'] = '86400';
    r.return(204);
}

async function capped(r, asset, file, cap) {
    var master = await r.subrequest('/_origin/' + asset + '/master.m3u8', {method: 'GET'});
    if (master.status === 404) {
        refuse(r, 404, 'NOT_FOUND', 'no such media file');
        return;
    }
    if (master.status !== 200) {
        r.headersOut['Retry-After'] = '2';
        refuse(r, 503, 'ORIGIN_UNAVAILABLE',
            'this media is not cached here and the origin is unavailable');
        return;
    }
    var lines = master.responseText.split('\n');
    var variants = variantsOf(lines);
    var allowed = allowedOf(variants, cap);
    if (file === 'master.m3u8') {
        r.headersOut['Content-Type'] = 'application/vnd.apple.mpegurl';
        r.headersOut['Cache-Control'] = 'public, max-age=60';
        r.headersOut[CORS] = '*';
        r.return(200, cappedMaster(lines, variants, allowed));
        return;
    }
    if (file.indexOf('/') !== -1 && folderRefused(variants, allowed, file.split('/')[0])) {
        refuse(r, 403, 'ABOVE_PLAN', "this rendition is above your plan's resolution");
        return;
    }
    r.internalRedirect('/_origin/' + asset + '/' + file);
}

function media(r) {
    if (r.method === 'OPTIONS') {
        preflight(r);
        return;
    }
    if (r.method !== 'GET' && r.method !== 'HEAD') {
        refuse(r, 405, 'METHOD_NOT_ALLOWED', 'media is read with GET or HEAD');
        return;
    }
    var found = edge.verify(r);
    if (found === null) {
        refuse(r, 403, 'FORBIDDEN', 'this media URL is not valid or has expired');
        return;
    }
    // edge_auth.js names the file `file` (a path) or, in older versions, `files` (its parts)
    var file = found.file !== undefined ? found.file : found.files.join('/');
    if (found.cap) {
        return capped(r, found.asset, file, found.cap);
    }
    r.internalRedirect('/_origin/' + found.asset + '/' + file);
}

export default {media};
