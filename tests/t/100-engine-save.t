# Task engine, the good paths: a save is fetched and extracted in the background.
#   save -> 202 -> GET /api/tasks/{id} 202 (Retry-After, Location) while pending -> 303
#   -> the item is ready with the page's title and text; Prefer: wait=N -> 201;
#   redirects within PokettoFetchMaxRedirects; a name from PokettoFetchResolve;
#   charsets (meta, none, mis-declared, unknown label), NUL bytes, gzip, text/plain;
#   percent-encoded non-UTF-8 bytes in the URL path; client-supplied html (no fetch);
#   refetch.
# The origin is this httpd (t/htdocs/origin/, see the "task engine tests" block of
# t/conf/extra.conf.in) and, for slow pages, bin/origin.pl.
use strict;
use warnings;
use utf8;
use Apache::Test ();
use Test::More;
use PokettoTest;
use Time::HiRes qw(time sleep);
use IO::Compress::Gzip qw(gzip $GzipError);

my $u = uniq('eng');
my $port = port();
my $local = "http://127.0.0.1:$port/origin";
my $origin = origin_start();
my $gen = origin_dir() . '/gen';

my $ARTICLE_TITLE = 'The Lighthouse Ledger';
my $ARTICLE_TEXT = qr/The lighthouse keeper counted ships every evening/;

# item_ready_ok(ID, NAME, title => , text => qr//, final_url => , content_type => )
# 4 assertions + 1 per extra key; returns the item
sub item_ready_ok {
    my ($id, $name, %o) = @_;
    my $res = req(GET => "/api/items/$id", auth => 'alice');
    my $it = json_of($res) // {};
    is($it->{state}, 'ready', "$name: item state ready")
        or diag('  item: ' . substr(jenc($it), 0, 400));
    ok(!defined $it->{error}, "$name: item error is null");
    ok(utf8_strict($res->content), "$name: the item's JSON is valid UTF-8");
    ok(defined $it->{text} && length $it->{text} > 0 && defined $it->{html}
       && length $it->{html} > 0, "$name: item has text and html");
    is($it->{title}, $o{title}, "$name: title") if exists $o{title};
    like($it->{text} // '', $o{text}, "$name: text") if $o{text};
    is($it->{final_url}, $o{final_url}, "$name: final_url") if exists $o{final_url};
    is($it->{content_type}, $o{content_type}, "$name: content_type")
        if exists $o{content_type};
    return $it;
}

# save(URL) -> (res, task id, item id); no assertions
sub save {
    my ($url, %extra) = @_;
    my ($res, $item) = save_item('alice', $url, %extra);
    return ($res, task_of($res) // 0, $item ? $item->{id} // 0 : 0);
}

section 'save -> 202 -> task 202 while pending -> 303 -> ready' => sub {
    my $url = "$origin->{url}/slow?ms=1500&id=$u-first";
    my $t0 = time;
    my ($res, $tid, $iid) = save($url);
    my $d = json_ok($res, 202, 'save a slow page') // {};
    ok(time - $t0 < 1.45, 'the save is answered before the page (1.5 s) is fetched');
    like($res->header('Location') // '', qr{(^|//[^/]+)/api/tasks/$tid$},
         'save: Location /api/tasks/{id}');
    is($d->{item}{state}, 'pending', 'save: the item is pending');
    is($d->{task}{state}, 'queued', 'save: the task is queued');
    is($d->{task}{item_id}, $iid, 'save: task.item_id');

    # the origin takes 1.5 s: the task is still queued or running now
    $res = req(GET => "/api/tasks/$tid", auth => 'alice');
    my $t = json_ok($res, 202, 'task while the page is fetched') // {};
    is($res->header('Retry-After'), '1', 'pending task: Retry-After: 1');
    like($res->header('Location') // '', qr{(^|//[^/]+)/api/tasks/$tid$},
         'pending task: Location /api/tasks/{id}');
    like($t->{state} // '', qr/^(queued|running)$/, 'pending task: state queued or running');
    is($t->{item_id}, $iid, 'pending task: item_id');
    is((get_item('alice', $iid) // {})->{state}, 'pending', 'pending task: item pending');

    $res = wait_task($tid, timeout => 20);
    status_is($res, 303, 'the task ends done: 303');
    like($res->header('Location') // '', qr{(^|//[^/]+)/api/items/$iid$},
         'done task: Location /api/items/{item}');
    my $it = item_ready_ok($iid, 'slow page', title => "Slow page $u-first",
                           text => qr/Paragraph 3 of the page from the scripted origin/,
                           final_url => $url, content_type => 'text/html');
    iso_ok($it->{fetched}, 'ready item: fetched');
    ok(($it->{word_count} // 0) > 100, 'ready item: word_count counts the article');
    like($it->{html} // '', qr/<p>Paragraph 5 of the page/, 'ready item: sanitised html');
    unlike($it->{html} // '', qr/<(script|nav)\b/i, 'ready item: html without nav/script');
    cmp_ok(origin_hits($origin, qr/id=\Q$u\E-first$/), '>=', 1, 'the origin was asked');
    is(db_value("SELECT attempts FROM tasks WHERE id = $tid"), 1, 'done in one attempt');
};

section 'a static article from the test httpd' => sub {
    my $url = "$local/article.html?$u-static";
    my ($res, $tid, $iid) = save($url);
    status_is($res, 202, 'save the static article');
    status_is(wait_task($tid), 303, 'static article: task done');
    my $it = item_ready_ok($iid, 'static article', title => $ARTICLE_TITLE,
                           text => $ARTICLE_TEXT, final_url => $url,
                           content_type => 'text/html');
    like($it->{text} // '', qr/all ships accounted for, light in good order/,
         'static article: the last paragraph is in the text');
    like($it->{excerpt} // '', qr/^The lighthouse keeper/, 'static article: excerpt');
    is(access_log_count(qr{"GET /origin/article\.html\?\Q$u\E-static HTTP}), 1,
       'static article: fetched once');
};

section 'Prefer: wait' => sub {
    my $url = "$local/article.html?$u-wait";
    my $res = req(POST => '/api/items', auth => 'alice', headers => { Prefer => 'wait=10' },
                  json => { url => $url });
    my $d = json_ok($res, 201, 'save with Prefer: wait=10') // {};
    my $it = $d->{item} // $d;
    like($res->header('Location') // '', qr{/api/items/$it->{id}$},
         'Prefer wait: Location /api/items/{id}');
    is($res->header('Preference-Applied'), 'wait=10', 'Prefer wait: Preference-Applied');
    is($it->{state}, 'ready', 'Prefer wait: the item is ready');
    is($it->{title}, $ARTICLE_TITLE, 'Prefer wait: title');

    # a page that fails: 201 as well, with the failed item
    $res = req(POST => '/api/items', auth => 'alice', headers => { Prefer => 'wait=10' },
               json => { url => "$local/missing-$u-wait.html" });
    $d = json_ok($res, 201, 'Prefer wait, page missing') // {};
    $it = $d->{item} // $d;
    is($it->{state}, 'failed', 'Prefer wait, page missing: the item is failed');
    is($it->{error}, 'HTTP 404', 'Prefer wait, page missing: error');

    # not finished in time: the usual 202
    my $t0 = time;
    $res = req(POST => '/api/items', auth => 'alice', headers => { Prefer => 'wait=1' },
               json => { url => "$origin->{url}/slow?ms=2500&id=$u-wait-late" });
    my $took = time - $t0;
    status_is($res, 202, 'Prefer wait=1 on a 2.5 s page: 202');
    ok($took >= 0.9 && $took < 2.4, sprintf('Prefer wait=1: held about 1 s (%.2f s)', $took));
    ok(task_of($res), 'Prefer wait=1: Location of the task');
    status_is(wait_task(task_of($res) // 0), 303, 'Prefer wait=1: the task still finishes');
};

section 'redirects within the limit, names from PokettoFetchResolve' => sub {
    my ($res, $tid, $iid) = save("$local/r/c3?$u-3hops");
    status_is($res, 202, 'save a page 3 redirects away');
    status_is(wait_task($tid), 303, '3 redirects (the limit): done');
    item_ready_ok($iid, '3 redirects', title => $ARTICLE_TITLE,
                  final_url => "$local/article.html?$u-3hops");

    my $url = "http://origin.test:$port/origin/article.html?$u-name";
    ($res, $tid, $iid) = save($url);
    status_is(wait_task($tid), 303, 'a name PokettoFetchResolve maps to 127.0.0.1: done');
    item_ready_ok($iid, 'origin.test', title => $ARTICLE_TITLE, final_url => $url);

    ($res, $tid, $iid) = save("$local/r/via-name?$u-vianame");
    status_is(wait_task($tid), 303, 'a redirect to that name: done');
    item_ready_ok($iid, 'redirect to origin.test', title => $ARTICLE_TITLE,
                  final_url => "http://origin.test:$port/origin/article.html?$u-vianame");
};

section 'charsets, NUL bytes, compression, plain text' => sub {
    # generated at run time: a gzip-compressed copy of the article (Content-Encoding: gzip)
    my $plain = do { local $/; open(my $fh, '<:raw', origin_dir() . '/article.html') or die; <$fh> };
    my $gz;
    gzip(\$plain => \$gz) or die "gzip: $GzipError";
    write_file("$gen/article-$u.html.gzb", $gz);

    my %case = (
        latin1 => [ "$local/latin1.html?$u", 'Café Latin Crème',
                    qr/Crème brûlée and café au lait were on the menu/ ],
        nocharset => [ "$local/nocharset.html?$u", 'Bistro Crème Brûlée',
                       qr/a retired naïve painter/ ],
        misdeclared => [ "$local/misdeclared.html?$u", "Misdeclared Cr\x{FFFD}me Page",
                         qr/Cr\x{FFFD}me br\x{FFFD}l\x{FFFD}e and caf\x{FFFD} au lait/ ],
        badlabel => [ "$local/badcharset.html?$u", 'Unknown Charset Crème',
                      qr/Crème brûlée and café au lait/ ],
        nul => [ "$local/nul.html?$u", 'Nul Bytes Page',
                 qr/Null bytes hide in files that were written by careless programs/ ],
        gzip => [ "$local/gen/article-$u.html.gzb", $ARTICLE_TITLE, $ARTICLE_TEXT ],
    );
    my %ids;
    for my $k (sort keys %case) {
        my ($res, $tid, $iid) = save($case{$k}[0]);
        $ids{$k} = [ $tid, $iid ];
    }
    my ($tres, $ttid, $tiid) = save("$local/notes.txt?$u");
    my $done = wait_tasks([ $ttid, map { $_->[0] } values %ids ]);
    for my $k (sort keys %case) {
        my ($tid, $iid) = @{ $ids{$k} };
        status_is($done->{$tid}, 303, "$k: task done");
        my $it = item_ready_ok($iid, $k, title => $case{$k}[1], text => $case{$k}[2],
                               content_type => 'text/html');
        ok(($it->{text} // '') !~ /\x00/ && ($it->{title} // '') !~ /\x00/,
           "$k: no NUL in title or text");
    }
    status_is($done->{$ttid}, 303, 'text/plain: task done');
    item_ready_ok($tiid, 'text/plain', content_type => 'text/plain',
                  text => qr/second paragraph of the plain text notes/);
};

section 'URL bytes: percent-encoded latin-1 and UTF-8 paths' => sub {
    # a file whose name is the latin-1 byte E9 (not UTF-8): reachable as %E9
    write_file("$gen/caf\xE9-$u.html", "<html><head><title>Latin-1 File Name</title></head>"
               . "<body><article><p>" . ("The file name of this page is not UTF-8. " x 12)
               . "</p></article></body></html>");
    my ($res, $tid, $iid) = save("$local/gen/caf%E9-$u.html");
    my $d = json_ok($res, 202, 'save a URL with %E9 in its path') // {};
    is($d->{item}{url}, "$local/gen/caf%E9-$u.html", '%E9 is kept as it is in the url');
    status_is(wait_task($tid), 303, '%E9 path: done (the byte reached the origin)');
    item_ready_ok($iid, '%E9 path', title => 'Latin-1 File Name');

    # a UTF-8 path sent as characters: stored percent-encoded, the file is found
    write_file("$gen/caf\xC3\xA9-$u.html", "<html><head><title>UTF-8 File Name</title></head>"
               . "<body><article><p>" . ("The file name of this page is UTF-8. " x 12)
               . "</p></article></body></html>");
    ($res, $tid, $iid) = save("$local/gen/caf\x{E9}-$u.html");
    $d = json_ok($res, 202, 'save a URL with é in its path') // {};
    is($d->{item}{url}, "$local/gen/caf%C3%A9-$u.html", 'é is stored as %C3%A9');
    status_is(wait_task($tid), 303, 'é path: done');
    item_ready_ok($iid, 'é path', title => 'UTF-8 File Name');
};

section 'client-supplied html: nothing is fetched' => sub {
    my $html = "<!doctype html><html><head><title>As The Client Saw It</title></head><body>"
             . "<article>" . join('', map { "<p>Client paragraph $_: the page as the reader saw "
                                            . "it behind a paywall, sent by the extension.</p>" } 1 .. 6)
             . "</article></body></html>";
    my $url = "$local/article.html?$u-client";
    my ($res, $tid, $iid) = save($url, html => $html);
    status_is($res, 202, 'save with html');
    status_is(wait_task($tid), 303, 'client html: done');
    item_ready_ok($iid, 'client html', title => 'As The Client Saw It',
                  text => qr/Client paragraph 4: the page as the reader saw it/);
    is(access_log_count(qr/\Q$u\E-client/), 0, 'client html: the origin was never asked');

    # the slow origin: same, no request
    ($res, $tid, $iid) = save("$origin->{url}/slow?ms=3000&id=$u-client", html => $html);
    status_is(wait_task($tid, timeout => 10), 303, 'client html for a slow URL: done');
    is(origin_hits($origin, qr/\Q$u\E-client/), 0, 'client html: the slow origin was never asked');
};

section 'PokettoVideoHosts: embedded players of the listed hosts only' => sub {
    my $para = join '', map { "<p>Video paragraph $_: a talk about lighthouses, with the "
                              . "recording embedded below for readers who prefer it.</p>" } 1 .. 6;
    my $html = "<!doctype html><html><head><title>Embedded Players</title></head><body><article>"
             . $para
             . '<iframe src="https://www.youtube.com/embed/abc123"></iframe>'
             . '<iframe src="https://player.videos.example.org/v/42"></iframe>'
             . '<iframe src="https://tracker.example.net/frame"></iframe>'
             . '<iframe src="http://videos.example.org/v/plain-http"></iframe>'
             . "</article></body></html>";
    my ($res, $tid, $iid) = save("$local/article.html?$u-video", html => $html);
    status_is(wait_task($tid), 303, 'video hosts: done');
    my $it = get_item('alice', $iid) // {};
    my $h = $it->{html} // '';
    like($h, qr{<iframe[^>]+src="https://www\.youtube\.com/embed/abc123"}, 'video hosts: "default" keeps YouTube');
    like($h, qr{<iframe[^>]+src="https://player\.videos\.example\.org/v/42"},
         'video hosts: a listed host keeps its subdomains');
    unlike($h, qr{tracker\.example\.net}, 'video hosts: an unlisted host is dropped');
    unlike($h, qr{plain-http}, 'video hosts: an http:// player is dropped');
};

section 'right-to-left pages: dir and lang are kept' => sub {
    my $para = join '', map { "<p>\x{5e4}\x{5e1}\x{5e7}\x{5d4} $_: \x{5de}\x{5d2}\x{5d3}\x{5dc}\x{5d5}\x{5e8} "
                              . "\x{5e1}\x{5e4}\x{5e8} \x{5e2}\x{5dc} \x{5d4}\x{5d9}\x{5dd} "
                              . "\x{5d5}\x{5e2}\x{5dc} \x{5d4}\x{5e1}\x{5e4}\x{5d9}\x{5e0}\x{5d5}\x{5ea} "
                              . "\x{5e9}\x{5e2}\x{5d1}\x{5e8}\x{5d5} \x{5d1}\x{5d5}.</p>" } 1 .. 8;
    my $html = "<!doctype html><html lang=\"he\" dir=\"rtl\"><head><title>\x{5de}\x{5d2}\x{5d3}\x{5dc}\x{5d5}\x{5e8}</title></head>"
             . "<body><article>$para</article></body></html>";
    my ($res, $tid, $iid) = save("$local/article.html?$u-rtl", html => $html);
    status_is(wait_task($tid), 303, 'rtl: done');
    my $it = get_item('alice', $iid) // {};
    is($it->{dir}, 'rtl', 'rtl: the item says dir rtl');
    is($it->{lang}, 'he', 'rtl: and lang he');
    my $ltr = get_item('alice', $iid - 1) // {};
    ok(exists $ltr->{dir}, 'every item has a dir field (null when the page does not say)');
};

section 'refetch' => sub {
    # a page that is missing first: failed, then it appears and a refetch makes it ready
    my $name = "later-$u.html";
    my ($res, $tid, $iid) = save("$local/gen/$name");
    $res = wait_task($tid);
    my $d = json_ok($res, 200, 'missing page: task failed') // {};
    is($d->{error}, 'HTTP 404', 'missing page: HTTP 404');

    write_file("$gen/$name", "<html><head><title>Arrived Later</title></head><body><article>"
               . ("<p>This page was published after the first try. It is here now.</p>" x 6)
               . "</article></body></html>");
    $res = req(POST => "/api/items/$iid/refetch", auth => 'alice');
    $d = json_ok($res, 202, 'refetch a failed item') // {};
    my $tid2 = task_of($res) // 0;
    ok($tid2 && $tid2 != $tid, 'refetch: a new task');
    is($d->{task}{id}, $tid2, 'refetch: task.id matches Location');
    is($d->{item}{state}, 'pending', 'refetch: the item is pending again');
    $res = wait_task($tid2);
    status_is($res, 303, 'refetch: the new task is done');
    item_ready_ok($iid, 'refetched item', title => 'Arrived Later');
    # the first task stays failed
    $d = json_of(req(GET => "/api/tasks/$tid", auth => 'alice')) // {};
    is($d->{state}, 'failed', 'refetch: the old task is still failed');

    # while a task is queued or running, refetch returns that task
    ($res, $tid, $iid) = save("$origin->{url}/slow?ms=1500&id=$u-busy");
    $res = req(POST => "/api/items/$iid/refetch", auth => 'alice');
    $d = json_ok($res, 202, 'refetch while the task runs') // {};
    is(task_of($res), $tid, 'refetch while the task runs: the same task');
    status_is(wait_task($tid), 303, 'that task finishes');
    is(db_value("SELECT COUNT(*) FROM tasks WHERE item_id = $iid"), 1,
       'the item has that one task only');

    problem_ok(req(POST => "/api/items/$iid/refetch", auth => 'bob'), 404,
               "bob refetches alice's item");
    problem_ok(req(POST => '/api/items/999999999/refetch', auth => 'alice'), 404,
               'refetch an unknown item');
};

# PokettoFetchPerHost (6, the default) transfers per child to one host; the other pages of
# that host wait in the engine, and their PokettoFetchTimeout (3 s here) starts only when
# their transfer does. 18 pages of 1.2 s on one host: a child that holds them all runs
# them in 3 waves (3.6 s), so a time-out that ran while they waited would fail the last.
section 'one host: PokettoFetchPerHost at a time, waiting does not time out' => sub {
    my $N = 18;
    my (@tids, %page_of);
    for my $k (1 .. $N) {
        my ($res, $tid) = save("$origin->{url}/slow?ms=1200&id=$u-host$k");
        push @tids, $tid;
        $page_of{$tid} = "$u-host$k";
    }
    is(scalar(grep { $_ } @tids), $N, "per host: $N saves answered 202");
    # who runs each task: its owner while it runs (read until all are done)
    my (%owner, %done);
    my $deadline = time + 40;
    while (keys %done < $N && time < $deadline) {
        my $rows = task_rows(@tids);
        for my $id (keys %$rows) {
            my $r = $rows->{$id};
            $owner{$id} //= $r->{owner} if $r->{state} eq 'running' && $r->{owner} ne '';
            $done{$id} = $r if $r->{state} eq 'done' || $r->{state} eq 'failed';
        }
        sleep 0.1;
    }
    is(scalar(grep { $done{$_} && $done{$_}{state} eq 'done' } @tids), $N,
       "per host: all $N pages done");
    is(scalar(grep { $done{$_} && $done{$_}{attempts} == 1 } @tids), $N,
       'per host: each in one attempt (no time-out while waiting for the host)');
    # requests to the origin, by owner: a page asked at t is answered at t + 1.2 s, so a
    # child keeping to 6 at a time starts at most 6 in any 1 s window
    my %at;
    for (origin_log_lines($origin)) {
        $at{$2} //= $1 if /^req (\S+) \d+ .*id=(\Q$u\E-host\d+)$/;
    }
    my %by_owner;
    for my $id (@tids) {
        my $t = $at{ $page_of{$id} } // next;
        push @{ $by_owner{ $owner{$id} // '?' } }, $t;
    }
    my ($worst, $held) = (0, 0);
    for my $o (keys %by_owner) {
        my @t = sort { $a <=> $b } @{ $by_owner{$o} };
        $held = @t if @t > $held;
        for my $i (0 .. $#t) {
            my $n = grep { $_ >= $t[$i] && $_ < $t[$i] + 1.0 } @t;
            $worst = $n if $n > $worst;
        }
    }
    is(scalar(keys %at), $N, 'per host: the origin was asked for every page');
    cmp_ok($worst, '<=', 6, "per host: at most 6 started within 1 s by one child (busiest child held $held)");
};

done_testing;
