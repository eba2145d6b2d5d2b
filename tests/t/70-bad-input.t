# Bad input: every error is application/problem+json with status and detail, and a bad
# write changes nothing (docs/api.md "Errors").
#
# Limits: PokettoMaxBodySize 65536 and PokettoMaxPageSize 50 come from the test config;
# PokettoMaxUrlLength 2048, PokettoMaxTags 32, PokettoMaxTagLength 64 are the module's
# defaults (mod_poketto.c DEF_MAX_*), used for the boundary cases.
use strict;
use warnings;
use Apache::Test ();
use Test::More;
use PokettoTest;

use constant { MAX_BODY => 65536, MAX_URL => 2048, MAX_TAGS => 32, MAX_TAG_LEN => 64 };

my $u = uniq('bad');
my $n = 0;
sub url { "https://example.com/$u/" . ++$n }

my ($res0, $it) = save_item('alice', url(), tags => ['badinput']);
my $id = $it ? $it->{id} : 0;
ok($id, 'saved an item to patch');
my $before = snapshot();
ok(defined $before, 'snapshot of alice\'s data');

# bad(NAME, STATUS, [field], METHOD, PATH, %req): problem_ok + nothing changed
sub bad {
    my ($name, $status, $field, $method, $path, %r) = @_;
    my $res = req($method, $path, auth => 'alice', %r);
    my $p = problem_ok($res, $status, $name, defined $field ? (field => $field) : ());
    unchanged_ok($before, $name) if $method ne 'GET';
    return ($res, $p);
}

section 'malformed JSON: 400' => sub {
    my ($res, $p) = bad('malformed JSON', 400, undef, POST => '/api/items',
                        body => qq({\n  "url": oops\n}), ct => 'application/json');
    like($p->{detail} // '', qr/\bline\D{0,3}2\b/i, 'malformed JSON: detail gives line 2');
    like($p->{detail} // '', qr/\bcol(umn)?\D{0,3}\d+/i, 'malformed JSON: detail gives a column');
    bad('trailing comma', 400, undef, POST => '/api/items',
        body => '{"url":"' . url() . '",}', ct => 'application/json');
    bad('truncated JSON', 400, undef, POST => '/api/items', body => '{"url":"https://exa',
        ct => 'application/json');
    bad('empty body', 400, undef, POST => '/api/items', body => '', ct => 'application/json');
    bad('invalid UTF-8', 400, undef, POST => '/api/items',
        body => qq({"url":"https://example.com/\xff\xfe"}), ct => 'application/json');
    bad('two JSON values', 400, undef, POST => '/api/items',
        body => '{"url":"' . url() . '"} {}', ct => 'application/json');
    bad('malformed PATCH', 400, undef, PATCH => "/api/items/$id", body => '{"favorite":tru}',
        ct => 'application/json');

    # valid JSON that is not an object: 400 or 422 are both fair readings of the docs
    for my $body ('[]', '"https://example.com/x"', 'null', '42') {
        my $res = req(POST => '/api/items', auth => 'alice', body => $body, ct => 'application/json');
        ok($res->code == 400 || $res->code == 422, "JSON $body instead of an object: 400 or 422")
            or diag('  got ' . $res->code);
        like($res->header('Content-Type') // '', qr{^application/problem\+json}i,
             "JSON $body: problem+json");
    }
    unchanged_ok($before, 'non-object bodies');
};

section 'content type: 415' => sub {
    my $j = '{"url":"' . url() . '"}';
    bad('POST text/plain', 415, undef, POST => '/api/items', body => $j, ct => 'text/plain');
    bad('POST form', 415, undef, POST => '/api/items', body => 'url=https://example.com/',
        ct => 'application/x-www-form-urlencoded');
    bad('POST without Content-Type', 415, undef, POST => '/api/items', body => $j);
    bad('POST merge-patch+json', 415, undef, POST => '/api/items', body => $j,
        ct => 'application/merge-patch+json');
    bad('PATCH text/plain', 415, undef, PATCH => "/api/items/$id", body => '{"favorite":true}',
        ct => 'text/plain');
    bad('login as text/plain', 415, undef, POST => '/api/session',
        body => '{"login":"alice","password":"alicepw"}', ct => 'text/plain');

    my ($r) = req(POST => '/api/items', auth => 'alice', json => { url => url() },
                  ct => 'application/json; charset=utf-8');
    status_is($r, 202, 'application/json; charset=utf-8 is accepted');
    $before = snapshot();
};

section 'body size: 413' => sub {
    my $big = '{"url":"' . url() . '","title":"' . ('x' x (MAX_BODY + 100)) . '"}';
    bad('body over 65536 bytes', 413, undef, POST => '/api/items', body => $big,
        ct => 'application/json');
    bad('PATCH body over 65536 bytes', 413, undef, PATCH => "/api/items/$id",
        body => '{"title":"' . ('y' x (MAX_BODY + 10)) . '"}', ct => 'application/json');

    # chunked, no Content-Length: the limit holds while reading
    my $chunk = 'z' x 8000;
    my $raw = "POST /api/items HTTP/1.1\r\nHost: 127.0.0.1:" . port() . "\r\n"
            . 'Authorization: Bearer ' . token_of('alice') . "\r\n"
            . "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    my $body = '{"url":"' . url() . '","title":"' . ('z' x (MAX_BODY + 1000)) . '"}';
    for (my $o = 0; $o < length $body; $o += 8000) {
        my $c = substr($body, $o, 8000);
        $raw .= sprintf("%x\r\n%s\r\n", length $c, $c);
    }
    $raw .= "0\r\n\r\n";
    my $out = raw_http($raw);
    like($out, qr{^HTTP/1\.1 413 }, 'chunked body over 65536 bytes: 413');
    like($out, qr{\r\nContent-Type: application/problem\+json}i, 'chunked 413: problem+json');
    unchanged_ok($before, 'chunked 413');

    # exactly at the limit is fine (whitespace padding keeps the JSON valid)
    my $j = '{"url":"' . url() . '"}';
    $j .= ' ' x (MAX_BODY - length $j);
    my $r = req(POST => '/api/items', auth => 'alice', body => $j, ct => 'application/json');
    status_is($r, 202, 'a body of exactly 65536 bytes is accepted');
    $before = snapshot();
};

section 'url: 422' => sub {
    bad('missing url', 422, 'url', POST => '/api/items', json => { tags => ['x'] });
    bad('url null', 422, 'url', POST => '/api/items', json => { url => undef });
    bad('url number', 422, 'url', POST => '/api/items', json => { url => 42 });
    bad('url empty', 422, 'url', POST => '/api/items', json => { url => '' });
    for my $bad ('ftp://example.com/file', 'javascript:alert(1)', '/relative/path', 'relative',
                 'example.com/no-scheme', 'mailto:a@example.com', 'file:///etc/passwd',
                 'data:text/html,hi', 'http://', 'https:///path-only', 'https://exa mple.com/',
                 '//example.com/scheme-relative') {
        bad("url $bad", 422, 'url', POST => '/api/items', json => { url => $bad });
    }
    my $long = 'https://example.com/' . $u . '/';
    my $at = $long . ('a' x (MAX_URL - length $long));
    bad('url over 2048 bytes', 422, 'url', POST => '/api/items', json => { url => "${at}b" });
    bad('url of 20000 bytes', 422, 'url', POST => '/api/items',
        json => { url => $long . ('a' x 20000) });
    my $r = req(POST => '/api/items', auth => 'alice', json => { url => $at });
    status_is($r, 202, 'url of exactly 2048 bytes is accepted');
    $before = snapshot();
};

section 'tags and title: 422' => sub {
    bad('tags a string', 422, 'tags', POST => '/api/items', json => { url => url(), tags => 'news' });
    bad('tags an object', 422, 'tags', POST => '/api/items', json => { url => url(), tags => { a => 1 } });
    bad('tag a number', 422, 'tags', POST => '/api/items', json => { url => url(), tags => [123] });
    bad('tag null', 422, 'tags', POST => '/api/items', json => { url => url(), tags => [undef] });
    bad('tag empty', 422, 'tags', POST => '/api/items', json => { url => url(), tags => [''] });
    bad('tag blank', 422, 'tags', POST => '/api/items', json => { url => url(), tags => ['   '] });
    bad('tag of 65 characters', 422, 'tags', POST => '/api/items',
        json => { url => url(), tags => [ 't' x (MAX_TAG_LEN + 1) ] });
    bad('tag of 5000 characters', 422, 'tags', POST => '/api/items',
        json => { url => url(), tags => [ 't' x 5000 ] });
    bad('33 tags', 422, 'tags', POST => '/api/items',
        json => { url => url(), tags => [ map { "t$_" } 1 .. MAX_TAGS + 1 ] });
    bad('title a number', 422, 'title', POST => '/api/items', json => { url => url(), title => 5 });
    bad('html a number', 422, 'html', POST => '/api/items', json => { url => url(), html => 5 });
    bad('tags too long on an existing URL', 422, 'tags', POST => '/api/items',
        json => { url => "https://example.com/$u/1", tags => [ 't' x 5000 ] });

    my ($r, $item) = save_item('alice', url(), tags => [ map { "b$_" } 1 .. MAX_TAGS ]);
    status_is($r, 202, '32 tags are accepted');
    ($r, $item) = save_item('alice', url(), tags => [ "\x{e9}" x MAX_TAG_LEN ]);
    status_is($r, 202, 'a tag of 64 characters (128 bytes) is accepted');
    $before = snapshot();
};

section 'PATCH: 422' => sub {
    my $T = JSON::PP::true;
    my $P = "/api/items/$id";
    bad('PATCH unknown member', 422, 'foo', PATCH => $P, json => { foo => 1 });
    bad('PATCH unknown member with a valid one', 422, 'foo', PATCH => $P,
        json => { favorite => $T, foo => 1 });
    bad('PATCH url', 422, 'url', PATCH => $P, json => { url => 'https://example.com/other' });
    bad('PATCH id', 422, 'id', PATCH => $P, json => { id => 1 });
    bad('PATCH progress 1.5', 422, 'progress', PATCH => $P, json => { progress => 1.5 });
    bad('PATCH progress -0.1', 422, 'progress', PATCH => $P, json => { progress => -0.1 });
    bad('PATCH progress as string', 422, 'progress', PATCH => $P, json => { progress => '0.5' });
    bad('PATCH progress null', 422, 'progress', PATCH => $P, json => { progress => undef });
    bad('PATCH archived "yes"', 422, 'archived', PATCH => $P, json => { archived => 'yes' });
    bad('PATCH favorite 1', 422, 'favorite', PATCH => $P, json => { favorite => 1 });
    bad('PATCH title 1001 bytes', 422, 'title', PATCH => $P, json => { title => 'x' x 1001 });
    bad('PATCH title number', 422, 'title', PATCH => $P, json => { title => 5 });
    bad('PATCH tags string', 422, 'tags', PATCH => $P, json => { tags => 'a' });
    bad('PATCH tag too long', 422, 'tags', PATCH => $P, json => { tags => [ 'x' x 5000 ] });

    my $d = json_of(req(PATCH => $P, auth => 'alice', json => { title => 'x' x 1000 })) // {};
    is(length($d->{title} // ''), 1000, 'PATCH title of 1000 bytes is accepted');
    req(PATCH => $P, auth => 'alice', json => { title => undef });
    $before = snapshot();
};

section 'query parameters: 400' => sub {
    for my $q ('limit=0', 'limit=51', 'limit=abc', 'limit=-1', 'limit=1.5', 'limit=') {
        bad("GET /api/items?$q", 400, 'limit', GET => "/api/items?$q");
    }
    bad('state=bogus', 400, 'state', GET => '/api/items?state=bogus');
    bad('sort=sideways', 400, 'sort', GET => '/api/items?sort=sideways');
    bad('favorite=maybe', 400, 'favorite', GET => '/api/items?favorite=maybe');
    bad('since=yesterday', 400, 'since', GET => '/api/items?since=yesterday');
    bad('cursor=garbage', 400, 'cursor', GET => '/api/items?cursor=%21%21garbage%21%21');
    status_is(req(GET => '/api/items?limit=1', auth => 'alice'), 200, 'limit=1 is fine');
};

section 'unknown items and routes: 404' => sub {
    bad('GET unknown item', 404, undef, GET => '/api/items/999999999');
    bad('PATCH unknown item', 404, undef, PATCH => '/api/items/999999999', json => { favorite => JSON::PP::true });
    bad('DELETE unknown item', 404, undef, DELETE => '/api/items/999999999');
    bad('item id 0', 404, undef, GET => '/api/items/0');
    bad('item id abc', 404, undef, GET => '/api/items/abc');
    bad('item id -1', 404, undef, GET => '/api/items/-1');
    bad('huge item id', 404, undef, GET => '/api/items/99999999999999999999999999');
    bad('unknown route', 404, undef, GET => '/api/nope');
    bad('unknown route POST', 404, undef, POST => '/api/nope', json => {});
    bad('sub-route of an item', 404, undef, GET => "/api/items/$id/extra");
    bad('/api itself', 404, undef, GET => '/api');
};

section 'method not allowed: 405' => sub {
    my @cases = (
        [ PUT    => '/api/items',     [qw(GET POST)] ],
        [ DELETE => '/api/items',     [qw(GET POST)] ],
        [ POST   => "/api/items/$id", [qw(GET PATCH DELETE)] ],
        [ PUT    => "/api/items/$id", [qw(GET PATCH DELETE)] ],
        [ PUT    => '/api/session',   [qw(GET POST DELETE)] ],
        [ PATCH  => '/api/tokens',    [qw(GET POST)] ],
        [ POST   => '/api/tags',      [qw(GET)] ],
    );
    for my $c (@cases) {
        my ($m, $path, $allow) = @$c;
        my ($res) = bad("$m $path", 405, undef, $m => $path,
                        $m =~ /^(POST|PUT|PATCH)$/ ? (json => { url => url() }) : ());
        my %got = map { uc($_) => 1 } header_list($res, 'Allow');
        ok(!grep({ !$got{$_} } @$allow) && !$got{$m},
           "$m $path: Allow lists @$allow and not $m")
            or diag('  Allow: ' . ($res->header('Allow') // '-'));
    }
};

section 'credentials: 401' => sub {
    for my $c ([ 'no credentials', undef ],
               [ 'an unknown token', { token => 'pkt_unknownunknownunknown' } ],
               [ 'a token without pkt_', { token => 'garbage' } ]) {
        my ($name, $auth) = @$c;
        my $res = req(POST => '/api/items', json => { url => url() }, defined $auth ? (auth => $auth) : ());
        problem_ok($res, 401, "save with $name");
        like($res->header('WWW-Authenticate') // '', qr/^Bearer\b.*realm="poketto"/i,
             "save with $name: WWW-Authenticate Bearer");
        unchanged_ok($before, "save with $name");
    }
    my $res = req(GET => '/api/items', headers => { Authorization => 'Basic ' . 'YWxpY2U6YWxpY2Vwdw==' });
    problem_ok($res, 401, 'Basic credentials on /api (PokettoAuth builtin)');
    $res = req(GET => '/api/items', headers => { Authorization => 'Bearer' });
    problem_ok($res, 401, 'empty Bearer');
};

done_testing;
