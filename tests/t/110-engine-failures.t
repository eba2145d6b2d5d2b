# Task engine, every way a fetch fails: the task ends failed (GET /api/tasks/{id} 200
# "state":"failed") and the item failed, both with the exact sentence a user reads, after
# the right number of attempts: errors that may pass (connection refused, HTTP 5xx,
# time-outs) are tried 1 + PokettoTaskRetries (2) times with a doubling delay from
# PokettoTaskRetryDelay (1 s); the others fail at once.
# Limits of the test config: PokettoFetchMaxSize 200000, PokettoFetchMaxRedirects 3,
# PokettoFetchTimeout 3. All cases are saved first and waited for together.
use strict;
use warnings;
use Apache::Test ();
use Test::More;
use PokettoTest;
use Time::HiRes qw(time sleep);
use IO::Compress::Gzip qw(gzip $GzipError);

my $u = uniq('fail');
my $port = port();
my $local = "http://127.0.0.1:$port/origin";
my $origin = origin_start();
my $gen = origin_dir() . '/gen';
my $closed = closed_port();
my $MAX = 200000;

# run-time files: a page over the limit (it has a Content-Length), and a gzip bomb: 20 MB
# of HTML that is 20 KB on the wire (Content-Length under the limit, so only the
# decompressed size can stop it)
write_file("$gen/large-$u.html",
           "<html><head><title>Large</title></head><body>" . ("<p>" . ("x" x 996) . "</p>") x 250
           . "</body></html>");
{
    my $raw = "<html><head><title>Bomb</title></head><body><p>" . (' ' x 20_000_000) . "</p>";
    my $gz;
    gzip(\$raw => \$gz, -Level => 9) or die "gzip: $GzipError";
    write_file("$gen/bomb-$u.html.gzb", $gz);
}
ok(-s "$gen/large-$u.html" > $MAX, 'the large page is over PokettoFetchMaxSize');
ok(-s "$gen/bomb-$u.html.gzb" < $MAX / 2, 'the gzip bomb is small on the wire');

my $larger = "the page is larger than $MAX bytes";
my $timed_out = qr/^timed out after 3000 ms \(.+\)$/;
# name => [ url, error (string: exact, or regex), attempts ]
my %case = (
    refused    => [ "http://127.0.0.1:$closed/$u-refused", 'connection refused by 127.0.0.1', 3 ],
    http404    => [ "$local/missing-$u.html", 'HTTP 404', 1 ],
    http410    => [ "$local/status/410?$u", 'HTTP 410', 1 ],
    http500    => [ "$local/status/500?$u", 'HTTP 500', 3 ],
    http503    => [ "$local/status/503?$u", 'HTTP 503', 3 ],
    png        => [ "$local/pixel.png?$u", 'not an HTML page (image/png)', 1 ],
    json       => [ "$local/data.json?$u", 'not an HTML page (application/json)', 1 ],
    octet      => [ "$local/octet.html?$u", 'not an HTML page (application/octet-stream)', 1 ],
    large      => [ "$local/gen/large-$u.html", $larger, 1 ],
    streamed   => [ "$origin->{url}/big?bytes=50000000&id=$u-big", $larger, 1 ],
    gzip_bomb  => [ "$local/gen/bomb-$u.html.gzb", $larger, 1 ],
    redirects  => [ "$local/r/c4?$u", 'more than 3 redirects', 1 ],
    loop       => [ "$local/r/loop-a?$u", 'more than 3 redirects', 1 ],
    empty      => [ "$local/empty.html?$u", 'the page is empty', 1 ],
    timeout    => [ "$origin->{url}/slow?ms=9000&id=$u-slow", $timed_out, 3 ],
    drip       => [ "$origin->{url}/drip?id=$u-drip", $timed_out, 3 ],
    dns        => [ "http://no-such-host-$u.invalid/page", "DNS name not found: no-such-host-$u.invalid", 1 ],
    tls        => [ "https://127.0.0.1:$port/origin/article.html?$u", qr/^TLS error: .+/, 1 ],
);

my (%tid, %iid, %saved_at);
for my $k (sort keys %case) {
    $saved_at{$k} = time;
    my ($res, $item) = save_item('alice', $case{$k}[0]);
    status_is($res, 202, "$k: saved");
    $tid{$k} = task_of($res) // 0;
    $iid{$k} = $item ? $item->{id} : 0;
}
# a page that fails once (503) and then works: retried, ready
my ($fres, $fitem) = save_item('alice', "$origin->{url}/flaky?fails=1&id=$u-flaky");
status_is($fres, 202, 'flaky: saved');
my $flaky_tid = task_of($fres) // 0;

my (%seen, %done_at);
my $t0 = time;
my $last = wait_tasks([ $flaky_tid, values %tid ], timeout => 40, seen => \%seen,
                      done_at => \%done_at);
note(sprintf 'all tasks ended in %.1f s', time - $t0);

for my $k (sort keys %case) {
    my ($url, $want, $attempts) = @{ $case{$k} };
    section $k => sub {
        my $res = $last->{ $tid{$k} };
        my $d = json_ok($res, 200, "$k: task answered as failed") // {};
        is($d->{state}, 'failed', "$k: task state failed");
        if (ref $want) { like($d->{error} // '', $want, "$k: task error") }
        else { is($d->{error}, $want, "$k: task error") }
        is($d->{attempts}, $attempts, "$k: $attempts attempt(s)");
        my $it = get_item('alice', $iid{$k}) // {};
        is($it->{state}, 'failed', "$k: item state failed");
        is($it->{error}, $d->{error}, "$k: item error is the task's");
    };
}

section 'retries wait and say why' => sub {
    # while a retry waits, the task is 202 with the last attempt's reason
    my @waiting = grep { ($_->{state} // '') eq 'queued' && ($_->{attempts} // 0) >= 1 }
                  @{ $seen{ $tid{refused} } // [] };
    ok(@waiting, 'refused: seen queued for a retry');
    is($waiting[0] && $waiting[0]{error}, 'connection refused by 127.0.0.1',
       'refused: the waiting task carries the last error');
    # 1 s then 2 s between the attempts
    my $took = ($done_at{ $tid{refused} } // 0) - $saved_at{refused};
    ok($took >= 2.8, sprintf('refused: failed after the back-off (%.1f s >= 3 s)', $took));
    # a retry that succeeds
    my $res = $last->{$flaky_tid};
    status_is($res, 303, 'flaky: done after a retry');
    is(db_value("SELECT attempts FROM tasks WHERE id = $flaky_tid"), 2, 'flaky: 2 attempts');
    is(origin_hits($origin, qr/id=\Q$u\E-flaky$/), 2, 'flaky: the origin was asked twice');
    my $it = get_item('alice', $fitem ? $fitem->{id} : 0) // {};
    is($it->{state}, 'ready', 'flaky: item ready');
    is($it->{title}, "Flaky page $u-flaky", 'flaky: title');
};

section 'what reached the origin' => sub {
    is(access_log_count(qr{"GET /origin/missing-\Q$u\E\.html }), 1, 'HTTP 404: asked once');
    is(access_log_count(qr{"GET /origin/status/500\?\Q$u\E }), 3, 'HTTP 500: asked 3 times');
    is(access_log_count(qr{"GET /origin/status/503\?\Q$u\E }), 3, 'HTTP 503: asked 3 times');
    is(access_log_count(qr{"GET /origin/r/c\d\?\Q$u\E }), 4,
       'too many redirects: c4 c3 c2 c1 asked');
    is(access_log_count(qr{"GET /origin/article\.html\?\Q$u\E }), 0,
       'too many redirects: the 4th redirect was not followed');
    # (3 attempts; a child that stops while it fetches hands the task back uncounted and
    # another child asks again: prefork's spare-child reaping does that now and then)
    cmp_ok(origin_hits($origin, qr/id=\Q$u\E-slow$/), '>=', 3, 'time-out: asked 3 times');
    # the streamed page was aborted at the limit, not read to its end
    my ($sent) = map { /^sent \Q$u\E-big (\d+)$/ ? $1 : () } origin_log_lines($origin);
    ok(defined $sent && $sent < 50_000_000,
       'streamed page over the limit: the engine hung up early (origin wrote '
       . ($sent // '?') . ' of 50000000 bytes)');
};

section 'URLs that are not UTF-8 are refused at the door' => sub {
    my $before = snapshot('alice');
    my $res = req(POST => '/api/items', auth => 'alice', ct => 'application/json',
                  body => qq({"url":"$local/caf\xE9-$u.html"}));
    problem_ok($res, 400, 'raw byte 0xE9 in the url string', detail_like => qr/malformed JSON/);
    $res = req(POST => '/api/items', auth => 'alice', ct => 'application/json',
               body => qq({"url":"$local/a\\udc80-$u.html"}));
    problem_ok($res, 400, 'a lone surrogate escape in the url', detail_like => qr/malformed JSON/);
    $res = req(POST => '/api/items', auth => 'alice', ct => 'application/json',
               body => qq({"url":"$local/a\\u0000-$u.html"}));
    problem_ok($res, 400, 'an escaped NUL in the url', detail_like => qr/malformed JSON/);
    unchanged_ok($before, 'non-UTF-8 urls', 'alice');
};

section 'nothing left running' => sub {
    my $ids = join ',', $flaky_tid, values %tid;
    my @left = db_rows("SELECT id, state FROM tasks WHERE id IN ($ids)"
                       . " AND state NOT IN ('done', 'failed')");
    is(scalar @left, 0, 'every task of this file is done or failed')
        or diag('  still: ' . join ' ', map { "$_->[0]=$_->[1]" } @left);
};

done_testing;
