# Live events: GET /api/events as Server-Sent Events and as a long poll, over the
# shared-memory bus.
#   * a stream held by one child receives what a request to another child changed
#     (prefork: the stream occupies its process, so the change necessarily goes
#     elsewhere; event/worker: connections are opened until one lands on another child);
#   * every kind of event: item.saved, .updated, .deleted, .ready, .failed (the engine
#     fetches from this httpd's /origin/), in id order, the message format, the same
#     bytes on a stream and in a long poll;
#   * Last-Event-ID / ?after= resume gives exactly the events missed, also more of them
#     than a subscriber's queue holds (PokettoEventQueue 8 in t/conf/extra.conf.in);
#   * long poll: at once when events are there, waits otherwise (bounded), capped by
#     PokettoLongPollMaxWait (3 here); bad parameters are 400 problems;
#   * another user's events never leak;
#   * a burst from concurrent writer processes arrives complete, in id order, once;
#   * heartbeats; a graceful restart ends an open stream at once;
#   * an event another host committed (a row written to the table with sqlite3/psql, not
#     through this server's bus) reaches an open stream through the relay
#     (PokettoEventRelay 200), once, in order with the events around it.
# The database is the reference: what a stream must show is read from the events table.
use strict;
use warnings;
use Apache::Test ();
use Test::More;
use PokettoTest;
use Time::HiRes qw(time sleep);
use POSIX ();

my $u = uniq('ev');
my $port = port();
my $local = "http://127.0.0.1:$port/origin";
my $ALICE = user_id_of('alice');
my $BOB = user_id_of('bob');
keep_server_up();

sub last_event_id { db_value("SELECT COALESCE(MAX(id), 0) FROM events WHERE user_id = $_[0]") }

# the events of H after AFTER that the database holds, once all have arrived (at most
# TIMEOUT s): (received ids, database ids)
sub settle_stream {
    my ($h, $user, $after, $timeout) = @_;
    my $want;
    sse_pump($h, timeout => $timeout // 15, until => sub {
        $want = event_ids_after($user, $after);
        my %got = map { $_ => 1 } @{ sse_ids($h) };
        return !grep { !$got{$_} } @$want;
    });
    $want = event_ids_after($user, $after);
    return ([ grep { $_ > $after } @{ sse_ids($h) } ], $want);
}

sub strictly_increasing {
    my $ids = shift;
    for my $i (1 .. $#$ids) { return 0 unless $ids->[$i] > $ids->[$i - 1] }
    return 1;
}

# save and wait until the engine is done with it -> item id
sub saved_settled {
    my ($url, %extra) = @_;
    my ($res, $item) = save_item('alice', $url, %extra);
    my $id = $item ? $item->{id} : 0;
    settle('alice', $id);
    return $id;
}

section 'an event reaches a stream held by another child' => sub {
    my $h = sse_open();
    is($h->{status}, 200, 'stream: 200');
    like($h->{ctype} // '', qr{^text/event-stream}, 'stream: text/event-stream');
    my $sse_child = conn_child($h->{sock});
    ok($sse_child, 'stream: the child holding it is known');
    # under event/worker the stream's busy thread makes the parent start a spare child
    # within a second or so: open connections until one is served by another child
    my ($code, $body, $sock, $other);
    my $deadline = time + 8;
    while (time < $deadline) {
        ($code, $body, $sock) = keep_alive_request(GET => '/api/session');
        my $c = conn_child($sock);
        if ($c && $sse_child && $c != $sse_child) { $other = $c; last }
        close $sock if $sock;
        sleep 0.2;
    }
    ok($other, 'a connection served by another child')
        or diag("  only child $sse_child answered");
    my $t0 = time;
    ($code, $body) = keep_alive_request(POST => '/api/items', sock => $sock,
                                        json => { url => "https://example.com/$u/cross" });
    my $t1 = time;
    is($code, 202, 'save through the other child: 202');
    my $iid = ref $body eq 'HASH' ? $body->{item}{id} : 0;
    my $got = sse_pump($h, timeout => 10, until => sub {
        grep { ($_->{event} // '') eq 'item.saved' && ($_->{data}{id} // 0) == $iid }
            @{ $h->{events} } });
    ok($got, 'the stream in the first child receives item.saved of the item');
    my ($ev) = grep { ($_->{event} // '') eq 'item.saved' && ($_->{data}{id} // 0) == $iid }
               @{ $h->{events} };
    note(sprintf 'cross-child delivery: %.1f ms after the answer to the save (%.1f ms after it was sent)',
         ($ev ? $ev->{at} - $t1 : 0) * 1000, ($ev ? $ev->{at} - $t0 : 0) * 1000);
    ok($ev && $ev->{at} - $t1 < 1, 'within a second of the save being answered');
    close $sock if $sock;
    sse_close($h);
};

my ($ready_id, $failed_id, $kinds_from, @kind_events);
section 'an event committed by another host reaches an open stream (relay)' => sub {
    my $h = sse_open();
    is($h->{status}, 200, 'stream: 200');
    # a local save first: once its event is on the stream, the subscription is live
    my $iid = saved_settled("https://example.com/$u/relay-before");
    ok(sse_pump($h, timeout => 10, until => sub {
        grep { ($_->{data}{id} // 0) == $iid } @{ $h->{events} } }),
       'a local event arrives first');
    # what pk_event_add does, in one transaction of another writer: bump the user's
    # version (the event's seq), insert the row
    my $title = "written by another host $u";
    my $ms = int(time * 1000);
    db_rows("BEGIN; UPDATE users SET version = version + 1 WHERE id = $ALICE; "
            . "INSERT INTO events (user_id, type, item_id, created_ms, data, seq) VALUES "
            . "($ALICE, 'item.updated', $iid, $ms, '{\"id\":$iid,\"title\":\"$title\"}', "
            . "(SELECT version FROM users WHERE id = $ALICE)); COMMIT;");
    my $foreign = last_event_id($ALICE);
    my $t0 = time;
    my $got = sse_pump($h, timeout => 10, until => sub {
        grep { $_->{id} == $foreign } @{ $h->{events} } });
    ok($got, "the row written outside the server (event $foreign) reaches the stream");
    my @seen = grep { $_->{id} == $foreign } @{ $h->{events} };
    note(sprintf 'relayed after %.0f ms', (@seen ? $seen[0]{at} - $t0 : 0) * 1000);
    is(scalar @seen, 1, 'once');
    is(@seen ? $seen[0]{event} : '', 'item.updated', 'as item.updated');
    is(@seen ? $seen[0]{data}{item}{title} // '' : '', $title, 'with the data of the row');
    # and the stream goes on: the next local event follows, nothing missed
    my $next = saved_settled("https://example.com/$u/relay-after");
    my ($ids, $want) = settle_stream($h, $ALICE, $foreign - 1, 10);
    is("@$ids", "@$want", 'the stream holds exactly the events of the table from there, in order');
    sse_close($h);
};

section 'every kind of event, in order, in the documented format' => sub {
    $kinds_from = last_event_id($ALICE);
    my $h = sse_open();
    my ($res, $it) = save_item('alice', "$local/article.html?$u-kinds");
    $ready_id = $it ? $it->{id} : 0;
    ($res, $it) = save_item('alice', "$local/missing-$u.html");
    $failed_id = $it ? $it->{id} : 0;
    settle('alice', $ready_id, $failed_id);
    req(PATCH => "/api/items/$ready_id", auth => 'alice', json => { favorite => JSON::PP::true });
    req(DELETE => "/api/items/$failed_id", auth => 'alice');
    my ($got, $want) = settle_stream($h, $ALICE, $kinds_from);
    is_deeply($got, $want, 'the stream has exactly the events of the table, in id order')
        or diag("  got @$got\n  want @$want");
    @kind_events = grep { $_->{id} > $kinds_from } @{ $h->{events} };
    my %types = map { ($_->{event} // '') => 1 } @kind_events;
    ok($types{$_}, "an $_ event") for qw(item.saved item.ready item.failed item.updated item.deleted);
    my @bad = grep {
        my $d = $_->{data};
        !(ref $d eq 'HASH' && ($d->{type} // '') eq ($_->{event} // '-')
          && ($d->{event} // 0) == $_->{id} && ($d->{id} // 0) > 0
          && (($d->{type} eq 'item.deleted') ? !exists $d->{item}
              : (ref $d->{item} eq 'HASH' && $d->{item}{id} == $d->{id}
                 && !exists $d->{item}{html} && !exists $d->{item}{text})))
    } @kind_events;
    ok(!@bad, 'each message: type = event:, event = id:, the item without text/html (none for deleted)')
        or diag('  ' . join("\n  ", map { $_->{raw} } @bad[0 .. ($#bad > 2 ? 2 : $#bad)]));
    my ($rd) = grep { ($_->{event} // '') eq 'item.ready' && $_->{data}{id} == $ready_id } @kind_events;
    is($rd ? $rd->{data}{item}{state} : undef, 'ready', 'item.ready carries the ready item');
    is($rd ? $rd->{data}{item}{title} : undef, 'The Lighthouse Ledger', 'with its title');
    my ($fl) = grep { ($_->{event} // '') eq 'item.failed' } @kind_events;
    is($fl ? $fl->{data}{item}{error} : undef, 'HTTP 404', 'item.failed carries the error');
    my ($up) = grep { ($_->{event} // '') eq 'item.updated' } @kind_events;
    ok($up && $up->{data}{item}{favorite}, 'item.updated carries the changed item');
    # what GET /api/items/{id} shows, minus text and html
    my $now = get_item('alice', $ready_id) // {};
    delete @$now{qw(text html)};
    is_deeply($up ? $up->{data}{item} : undef, $now, 'the item of an event is the item as GET shows it');
    # a long poll of the same range: the very same bytes
    $res = req(GET => "/api/events?after=$kinds_from&wait=0", auth => 'alice');
    my $joined = join ',', map { $_->{raw} } @kind_events;
    ok(index($res->content // '', "[$joined]") >= 0,
       'a long poll of the same range sends byte-identical messages')
        or diag("  stream: [$joined]\n  poll:   " . ($res->content // ''));
    sse_close($h);
};

section 'resume: Last-Event-ID and ?after= give exactly the missed events' => sub {
    my $h = sse_open();
    req(PATCH => "/api/items/$ready_id", auth => 'alice', json => { progress => 0.1 });
    sse_pump($h, timeout => 10, until => sub { @{ $h->{events} } > 0 });
    my $seen = @{ $h->{events} } ? $h->{events}[-1]{id} : last_event_id($ALICE);
    sse_close($h);
    # 20 changes while nobody listens: more than a subscriber's queue (8) holds
    for my $k (1 .. 20) {
        req(PATCH => "/api/items/$ready_id", auth => 'alice', json => { progress => $k / 100 });
    }
    my $want = event_ids_after($ALICE, $seen);
    is(scalar @$want, 20, 'twenty events were missed');

    $h = sse_open(last_id => $seen);
    my ($got) = settle_stream($h, $ALICE, $seen);
    is_deeply($got, $want, 'Last-Event-ID: exactly those, in order, once')
        or diag("  got @$got\n  want @$want");
    my @p = map { $_->{data}{item}{progress} } grep { $_->{id} > $seen } @{ $h->{events} };
    is_deeply(\@p, [ map { $_ / 100 } 1 .. 20 ], 'each with the item as it was then');
    sse_close($h);

    # a long poll gives them a queue's worth (PokettoEventQueue 8) at a time
    my (@sizes, @polled);
    my $at = $seen;
    for (1 .. 4) {
        my $d = json_of(req(GET => "/api/events?after=$at&wait=0", auth => 'alice')) // {};
        my @ids = map { $_->{event} } @{ $d->{events} // [] };
        last unless @ids;
        push @sizes, scalar @ids;
        push @polled, @ids;
        $at = $d->{last};
    }
    is_deeply(\@sizes, [ 8, 8, 4 ], 'long polls: pages of 8, 8 and 4');
    is_deeply(\@polled, $want, 'long polls: the same twenty, in order');

    $h = sse_open(query => "after=$seen");
    ($got) = settle_stream($h, $ALICE, $seen);
    is_deeply($got, $want, '?after=: the same');
    sse_close($h);

    # an EventSource that reconnects keeps its URL and adds Last-Event-ID: that wins
    my $mid = $want->[9];
    $h = sse_open(query => "after=$seen", last_id => $mid);
    ($got) = settle_stream($h, $ALICE, $mid);
    is_deeply([ grep { $_ > $seen } @{ sse_ids($h) } ], [ @$want[10 .. 19] ],
              'Last-Event-ID wins over ?after=');
    # and live after the replay: no gap between the two
    req(PATCH => "/api/items/$ready_id", auth => 'alice', json => { progress => 0.5 });
    ($got, my $all) = settle_stream($h, $ALICE, $mid);
    is_deeply($got, $all, 'then live, without gap or duplicate');
    sse_close($h);
};

section 'long poll' => sub {
    my $last = last_event_id($ALICE);
    req(PATCH => "/api/items/$ready_id", auth => 'alice', json => { progress => 0.6 });
    req(PATCH => "/api/items/$ready_id", auth => 'alice', json => { progress => 0.7 });
    my $t0 = time;
    my $res = req(GET => "/api/events?after=$last&wait=3", auth => 'alice');
    my $took = time - $t0;
    my $d = json_ok($res, 200, 'pending events') // {};
    ok($took < 1, sprintf('answered at once (%.2f s)', $took));
    my @ids = map { $_->{event} } @{ $d->{events} // [] };
    is_deeply(\@ids, event_ids_after($ALICE, $last), 'the events after ID');
    is($d->{last}, $ids[-1], '"last" is the last of them');

    $t0 = time;
    $res = req(GET => "/api/events?after=$d->{last}&wait=2", auth => 'alice');
    $took = time - $t0;
    my $e = json_ok($res, 200, 'nothing new') // {};
    ok($took >= 1.8 && $took < 3.5, sprintf('waited about 2 s (%.2f s)', $took));
    is_deeply($e->{events}, [], 'events: []');
    is($e->{last}, $d->{last}, '"last" stays');

    # an event while it waits
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        fresh_connections();
        sleep 1;
        req(PATCH => "/api/items/$ready_id", auth => 'alice', json => { progress => 0.8 });
        POSIX::_exit(0);
    }
    $t0 = time;
    $res = req(GET => "/api/events?after=$d->{last}&wait=3", auth => 'alice');
    $took = time - $t0;
    waitpid $pid, 0;
    $e = json_ok($res, 200, 'an event while waiting') // {};
    ok($took >= 0.8 && $took < 2.5, sprintf('answered when it came (%.2f s)', $took));
    is(scalar @{ $e->{events} // [] }, 1, 'that one event');
    is($e->{events}[0]{item}{progress}, 0.8, 'with its item');

    # capped by PokettoLongPollMaxWait (3)
    $t0 = time;
    $res = req(GET => "/api/events?after=$e->{last}&wait=30", auth => 'alice');
    $took = time - $t0;
    status_is($res, 200, 'wait=30');
    ok($took >= 2.8 && $took < 5, sprintf('capped at PokettoLongPollMaxWait 3 (%.2f s)', $took));

    # no position: from now on; "last" tells where now is
    $res = req(GET => '/api/events?wait=0', auth => 'alice');
    $e = json_ok($res, 200, 'without after') // {};
    is_deeply($e->{events}, [], 'without after: nothing old');
    is($e->{last}, last_event_id($ALICE), 'without after: last is the newest event id');
};

section 'bad parameters' => sub {
    problem_ok(req(GET => '/api/events?after=abc&wait=1', auth => 'alice'), 400, 'after=abc',
               field => 'after');
    problem_ok(req(GET => '/api/events?after=-1&wait=1', auth => 'alice'), 400, 'after=-1',
               field => 'after');
    problem_ok(req(GET => '/api/events?after=1.5', auth => 'alice'), 400, 'after=1.5 (stream)',
               field => 'after');
    problem_ok(req(GET => '/api/events?wait=abc', auth => 'alice'), 400, 'wait=abc',
               field => 'wait');
    problem_ok(req(GET => '/api/events?wait=-1', auth => 'alice'), 400, 'wait=-1',
               field => 'wait');
    problem_ok(req(GET => '/api/events?wait=99999', auth => 'alice'), 400, 'wait=99999',
               field => 'wait');
    problem_ok(req(GET => '/api/events?wait=1&wait=2', auth => 'alice'), 400, 'wait twice',
               field => 'wait');
    problem_ok(req(GET => '/api/events', auth => 'alice', headers => { 'Last-Event-ID' => 'x1' }),
               400, 'Last-Event-ID: x1', field => 'Last-Event-ID');
    problem_ok(req(GET => '/api/events?wait=1'), 401, 'no credentials');
    problem_ok(req(GET => '/api/events', auth => { token => 'pkt_nope' }), 401, 'a bad token');
    my $res = req(POST => '/api/events', auth => 'alice', json => {});
    problem_ok($res, 405, 'POST');
    like($res->header('Allow') // '', qr/\bGET\b/, 'POST: Allow names GET');
};

section "another user's events never leak" => sub {
    my $from_a = last_event_id($ALICE);
    my $from_b = last_event_id($BOB);
    my $ha = sse_open(auth => 'alice');
    my $hb = sse_open(auth => 'bob');
    save_item('alice', "https://example.com/$u/leak-a1");
    save_item('bob', "https://example.com/$u/leak-b1");
    save_item('alice', "https://example.com/$u/leak-a2");
    my ($got_b, $want_b) = settle_stream($hb, $BOB, $from_b);
    my ($got_a, $want_a) = settle_stream($ha, $ALICE, $from_a);
    ok(@$want_b >= 1, "bob's change made events");
    is_deeply($got_b, $want_b, "bob's stream: exactly bob's events");
    is_deeply($got_a, $want_a, "alice's stream: exactly alice's events");
    my %bob_items = map { $_->[0] => 1 } db_rows("SELECT id FROM items WHERE user_id = $BOB");
    ok(!grep({ !$bob_items{ $_->{data}{id} // 0 } } @{ $hb->{events} }),
       "every item on bob's stream is bob's");
    my $res = req(GET => "/api/events?after=$from_a&wait=0", auth => 'bob');
    my $d = json_of($res) // {};
    is_deeply([ map { $_->{event} } @{ $d->{events} // [] } ], $want_b,
              "bob's long poll after alice's position: bob's events only");
    sse_close($ha);
    sse_close($hb);
};

section 'a burst from concurrent writers: complete, in id order, once' => sub {
    my $from = last_event_id($ALICE);
    my @h = (sse_open(), sse_open());
    my @kids;
    for my $w (1 .. 4) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            fresh_connections();
            for my $k (1 .. 6) {
                my ($res, $it) = save_item('alice', "https://example.com/$u/burst-$w-$k",
                                           tags => ["burst$w"]);
                req(PATCH => "/api/items/$it->{id}", auth => 'alice',
                    json => { favorite => JSON::PP::true }) if $it;
            }
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    waitpid $_, 0 for @kids;
    # the engine fails those saves at once (example.com resolves to a refused address)
    my $deadline = time + 20;
    sleep 0.3 while time < $deadline
        && db_value("SELECT COUNT(*) FROM items WHERE user_id = $ALICE AND state = 'pending'") > 0;
    my $n = 0;
    for my $h (@h) {
        ++$n;
        my ($got, $want) = settle_stream($h, $ALICE, $from, 20);
        ok(@$want >= 4 * 6 * 3, "stream $n: the burst wrote its events (" . scalar(@$want) . ')');
        is_deeply($got, $want, "stream $n: all of them, each once, in id order")
            or diag("  missing: @{[ grep { my $w = $_; !grep { $_ == $w } @$got } @$want ]}");
        ok(strictly_increasing($got), "stream $n: ids strictly increasing");
        sse_close($h);
    }
    my @seq = map { $_->[0] } db_rows("SELECT seq FROM events WHERE user_id = $ALICE"
                                      . " AND id > $from ORDER BY id");
    ok(!grep({ $seq[$_] != $seq[0] + $_ } 0 .. $#seq), 'the seq of the events counts up by one');
};

section 'a child that falls behind the ring catches up from the table' => sub {
    my $from = last_event_id($ALICE);
    my $h = sse_open();
    my $child = conn_child($h->{sock});
    ok($child, 'the child of the stream is known');
    # stopped while 70 events pass: more than the ring's 64 slots
    kill 'STOP', $child if $child;
    my $ok = 0;
    for my $k (1 .. 70) {
        my $res = req(PATCH => "/api/items/$ready_id", auth => 'alice', ua => new_ua(),
                      json => { progress => $k / 1000 });
        $ok++ if $res->code == 200;
    }
    kill 'CONT', $child if $child;
    is($ok, 70, 'other children made 70 changes meanwhile');
    my ($got, $want) = settle_stream($h, $ALICE, $from, 20);
    is(scalar @$want, 70, 'seventy events');
    is_deeply($got, $want, 'the stream has every one of them, in order, once')
        or diag("  got " . scalar(@$got) . " of " . scalar(@$want));
    sse_close($h);
};

section 'heartbeats, and a message too big for a ring slot' => sub {
    my $h = sse_open();
    my $before = @{ $h->{comments} };
    my $t0 = time;
    sse_pump($h, timeout => 5, until => sub { grep { $_ eq 'keepalive' } @{ $h->{comments} } });
    ok((grep { $_ eq 'keepalive' } @{ $h->{comments} }), 'an idle stream gets a heartbeat');
    ok(time - $t0 < 4, 'within PokettoSseHeartbeat (2 s) and a bit');
    # a title of 900 bytes: the message does not fit 1024-byte slots
    my $title = 'Long ' . ('title ' x 150);
    req(PATCH => "/api/items/$ready_id", auth => 'alice', json => { title => $title });
    sse_pump($h, timeout => 10, until => sub { grep { ($_->{data}{item}{title} // '') eq $title } @{ $h->{events} } });
    ok((grep { ($_->{data}{item}{title} // '') eq $title } @{ $h->{events} }),
       'a message larger than a slot arrives whole (read from the table)');
    sse_close($h);
};

section 'a graceful restart ends an open stream at once' => sub {
    my $h = sse_open();
    my $parent = httpd_parent_pid();
    my $t0 = time;
    kill 'USR1', $parent if $parent;
    sse_pump($h, timeout => 10);
    ok($h->{eof}, 'the stream ended');
    my $took = ($h->{eof_at} // time) - $t0;
    ok($took < 3, sprintf('within %.2f s of the graceful restart', $took));
    ok((grep { /restarting/ } @{ $h->{comments} }), 'with a comment saying so');
    survived_ok('graceful restart');
    my $from = last_event_id($ALICE);
    my $h2 = sse_open(last_id => $from);
    is($h2->{status}, 200, 'a new stream after the restart');
    req(PATCH => "/api/items/$ready_id", auth => 'alice', json => { progress => 0.9 });
    my ($got, $want) = settle_stream($h2, $ALICE, $from);
    is_deeply($got, $want, 'and it receives events');
    sse_close($h2);
};

done_testing;
