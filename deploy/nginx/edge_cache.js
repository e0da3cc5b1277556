// cinemesh edge at scale as a cache of the S3 origin (edge_cache.conf): the signed URL is
// checked by edge_auth.js (the same check as the plain nginx edge and the Python edge) before
// anything is looked up, then the file comes through nginx's proxy_cache (`/_origin/`), which
// asks the origin once per object however many miss it.
//
// A capped view (a scope `{asset}~{height}`) needs the asset's master playlist: it is read
// through the same cache (a subrequest), so the cap holds with no shared folder, and an asset
// whose master playlist is not in the origin yet (a publish under way) is not served. The
// playlist is capped, and a rendition's folder refused, by edge_auth.js's own functions.

import edge from 'edge_auth.js';

async function capped(r, asset, file, cap) {
    var master = await r.subrequest('/_origin/' + asset + '/master.m3u8', {method: 'GET'});
    if (master.status === 404) {
        edge.refuse(r, 404, 'NOT_FOUND', 'no such media file');
        return;
    }
    if (master.status !== 200) {
        r.headersOut['Retry-After'] = '2';
        edge.refuse(r, 503, 'ORIGIN_UNAVAILABLE',
            'this media is not cached here and the origin is unavailable');
        return;
    }
    var view = edge.parseLadder(master.responseText);
    if (file === 'master.m3u8') {
        edge.sendCappedMaster(r, view, cap);
        return;
    }
    var slash = file.indexOf('/');
    if (slash !== -1 && !edge.folderAllowed(view, file.slice(0, slash), cap)) {
        edge.refuse(r, 403, 'ABOVE_PLAN', "this rendition is above your plan's resolution");
        return;
    }
    r.internalRedirect('/_origin/' + asset + '/' + file);
}

function media(r) {
    var found = edge.admitted(r);
    if (found === null) {
        return;
    }
    if (found.cap) {
        return capped(r, found.asset, found.file, found.cap);
    }
    r.internalRedirect('/_origin/' + found.asset + '/' + found.file);
}

export default {media};
