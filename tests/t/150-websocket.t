# WebSocket: GET /api/ws (RFC 6455) and POST /api/ws-ticket.
#   * handshake refusals as problem+json: 400 / 401 / 403 / 405 / 426 (with
#     Sec-WebSocket-Version: 13), token lists in Upgrade/Connection, the accept key;
#   * auth: Bearer, the session cookie with an Origin check, single-use tickets (expiry,
#     wrong origin, reuse), nobody -> 401;
#   * every protocol error with hand-built frames over a plain socket and the exact close
#     code (bin/ws-raw.py; the server's frames are parsed by python3-websockets'
#     sans-I/O client), the close handshake, ping/pong, client JSON messages;
#   * events reach clients held by several children; resume after a reconnect gives
#     exactly the missed events (the events table is the reference);
#   * a graceful restart closes with 1001 and a resume loses nothing;
#   * a client that never reads is dropped (PokettoWsSendBuffer), one that never answers
#     pings too; an idle WebSocket outlives mod_reqtimeout; a dribbled handshake is cut;
#   * threaded MPMs: beyond PokettoWsMaxPerChild, 503 + Retry-After while HTTP is served;
#   * the npm `ws` client under node (ticket, resume, close).
# Clients: bin/ws-client.py (python3-websockets, asyncio), bin/ws-raw.py, bin/ws-node.js.
use strict;
use warnings;
use Apache::Test ();
use Test::More;
use PokettoTest;
use IO::Socket::INET ();
use IO::Select ();
use MIME::Base64 qw(encode_base64);
use Digest::SHA qw(sha1_base64);
use JSON::PP ();
use File::Basename ();
use File::Spec ();
use Time::HiRes qw(time sleep);

my $BIN = File::Spec->rel2abs(File::Basename::dirname(__FILE__) . '/../bin');
my $PY = '/usr/bin/python3';
my $port = port();
my $MPM = $ENV{POKETTO_TEST_MPM} // '';
my $ALICE_TOKEN = token_of('alice');
my $JS = JSON::PP->new->utf8->canonical;
my $u = uniq('ws');
my $ALICE = db_value("SELECT id FROM users WHERE login = 'alice'");
keep_server_up();
$SIG{PIPE} = 'IGNORE';

sub last_id { db_value("SELECT COALESCE(MAX(id), 0) FROM events WHERE user_id = $ALICE") }
sub ids_after {
    my $after = shift;
    return [ map { $_->[0] }
             db_rows("SELECT id FROM events WHERE user_id = $ALICE AND id > $after ORDER BY id") ];
}

# ---- raw handshakes ----
# hs(%o) -> { status, head, headers => {lc name => value}, body, sock }
sub hs {
    my %o = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 10)
        or return { status => 0 };
    my %h = (
        Host => "127.0.0.1:$port",
        Upgrade => 'websocket',
        Connection => 'Upgrade',
        'Sec-WebSocket-Version' => '13',
        'Sec-WebSocket-Key' => 'dGhlIHNhbXBsZSBub25jZQ==',
        Authorization => "Bearer $ALICE_TOKEN",
        %{ $o{headers} // {} },
    );
    my $req = ($o{method} // 'GET') . ' ' . ($o{path} // '/api/ws') . ' '
            . ($o{proto} // 'HTTP/1.1') . "\r\n";
    for my $k (sort keys %h) {
        $req .= "$k: $h{$k}\r\n" if defined $h{$k};
    }
    syswrite($s, "$req\r\n");
    my $buf = '';
    my $deadline = time + 10;
    while ($buf !~ /\r\n\r\n/ && time < $deadline) {
        my $n = sysread($s, $buf, 65536, length $buf);
        last unless $n;
    }
    my $r = { sock => $s, status => 0, headers => {} };
    return $r unless $buf =~ s/^(.*?)\r\n\r\n//s;
    $r->{head} = $1;
    ($r->{status}) = $r->{head} =~ m{^HTTP/1\.\d (\d{3})};
    for my $line (split /\r\n/, $r->{head}) {
        $r->{headers}{ lc $1 } = $2 if $line =~ /^([^:]+):\s*(.*)$/;
    }
    if ($r->{status} != 101) {
        my $len = $r->{headers}{'content-length'} // 0;
        while (length($buf) < $len && time < $deadline) {
            my $n = sysread($s, $buf, 65536, length $buf);
            last unless $n;
        }
        $r->{body} = $buf;
        close $s;
        delete $r->{sock};
    }
    return $r;
}

# hs_problem(R, STATUS, NAME): 3 assertions
sub hs_problem {
    my ($r, $status, $name) = @_;
    is($r->{status}, $status, "$name: $status");
    like($r->{headers}{'content-type'} // '', qr{^application/problem\+json}, "$name: problem+json");
    my $p = eval { $JS->decode($r->{body} // '') } // {};
    ok(($p->{status} // 0) == $status && length($p->{detail} // ''), "$name: a detail")
        or diag($r->{body});
    return $p;
}

# ---- python3-websockets client processes ----
# ws_start(URL, ARGS...) -> handle {fh, pid, lines}: bin/ws-client.py in the background
sub ws_start {
    my ($path, @args) = @_;
    my $pid = open(my $fh, '-|', $PY, "$BIN/ws-client.py", "ws://127.0.0.1:$port$path", @args)
        or die "ws-client.py: $!";
    return { fh => $fh, pid => $pid, lines => [], buf => '', eof => 0 };
}

# ws_pump(HANDLES, UNTIL, TIMEOUT): read their lines until UNTIL->() or TIMEOUT
sub ws_pump {
    my ($hs, $until, $timeout) = @_;
    my $deadline = time + ($timeout // 10);
    my $sel = IO::Select->new(map { $_->{fh} } grep { !$_->{eof} } @$hs);
    while (!$until->()) {
        my $left = $deadline - time;
        last if $left <= 0 || !$sel->count;
        for my $fh ($sel->can_read($left > 0.5 ? 0.5 : $left)) {
            my ($h) = grep { $_->{fh} == $fh } @$hs;
            my $n = sysread($fh, $h->{buf}, 65536, length $h->{buf});
            if (!$n) {
                $h->{eof} = 1;
                $sel->remove($fh);
                next;
            }
            while ($h->{buf} =~ s/^(.*?)\n//) {
                push @{ $h->{lines} }, $1;
            }
        }
    }
    return $until->();
}

sub ws_open_port {
    my $h = shift;
    my ($l) = grep { /^OPEN / } @{ $h->{lines} };
    return $l && $l =~ /^OPEN (\d+)/ ? $1 : undef;
}
sub ws_msgs { [ map { /^MSG (.*)$/ ? (eval { $JS->decode($1) } // {}) : () } @{ $_[0]{lines} } ] }
sub ws_closed {
    my ($l) = grep { /^(CLOSED|REFUSED|ERROR)/ } @{ $_[0]{lines} };
    return $l;
}
sub ws_stop {
    my $h = shift;
    kill 'TERM', $h->{pid} if $h->{pid};
    close $h->{fh};
    waitpid($h->{pid}, 0);
}
sub resumed_of {
    my ($m) = grep { $_->{type} eq 'resumed' } @{ ws_msgs($_[0]) };
    return $m;
}

# the server child holding the connection from local port P (via /proc: the socket's
# inode in /proc/net/tcp, then the child with that inode among its descriptors)
sub child_of_port {
    my $p = shift or return undef;
    my $inode;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open(my $fh, '<', $f) or next;
        while (<$fh>) {
            my @c = split;
            next unless @c > 9 && $c[1] =~ /:([0-9A-F]{4})$/ && hex($1) == $port;
            next unless $c[2] =~ /:([0-9A-F]{4})$/ && hex($1) == $p;
            $inode = $c[9];
        }
    }
    return undef unless $inode;
    for my $pid (httpd_children()) {
        for my $fd (glob "/proc/$pid/fd/*") {
            my $l = readlink($fd) // next;
            return $pid if $l eq "socket:[$inode]";
        }
    }
    return undef;
}

# whether the server holds WebSockets in parked mode (its error_log says how they open)
sub ws_parked {
    open(my $fh, '<', t_logs_dir() . '/error_log') or return 0;
    return scalar grep { /AH10856: .*opened \(parked/ } <$fh>;
}

# whether WebSockets of this run were detached (parked, no TLS: PokettoWsDetach)
sub ws_detached {
    open(my $fh, '<', t_logs_dir() . '/error_log') or return 0;
    return scalar grep { /AH10856: .*opened \(parked, detached mode/ } <$fh>;
}

# the event ids of a client's messages, in order (each bus message carries "event")
sub event_ids_of { [ map { $_->{event} } grep { defined $_->{event} } @{ ws_msgs($_[0]) } ] }

# =====================================================================================
section 'handshake' => sub {
    my $r = hs();
    is($r->{status}, 101, 'Bearer: 101');
    is($r->{headers}{'sec-websocket-accept'}, 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 'the accept key of RFC 6455 1.3');
    like($r->{headers}{upgrade} // '', qr/^websocket$/i, 'Upgrade: websocket');
    close $r->{sock} if $r->{sock};

    $r = hs(headers => { Upgrade => 'foo/1, WebSocket', Connection => 'keep-alive, UPGRADE' });
    is($r->{status}, 101, 'token lists, any case: 101');
    close $r->{sock} if $r->{sock};

    $r = hs(headers => { Upgrade => undef, Connection => undef });
    hs_problem($r, 426, 'no Upgrade');
    like($r->{headers}{upgrade} // '', qr/websocket/i, 'no Upgrade: 426 says Upgrade: websocket');
    hs_problem(hs(headers => { Connection => 'keep-alive' }), 400, 'Connection without upgrade');
    $r = hs(headers => { 'Sec-WebSocket-Version' => '8' });
    hs_problem($r, 426, 'version 8');
    is($r->{headers}{'sec-websocket-version'}, '13', 'version 8: Sec-WebSocket-Version: 13');
    hs_problem(hs(headers => { 'Sec-WebSocket-Version' => undef }), 426, 'no version');
    hs_problem(hs(headers => { 'Sec-WebSocket-Key' => 'c2hvcnQ=' }), 400, 'a short key');
    hs_problem(hs(headers => { 'Sec-WebSocket-Key' => undef }), 400, 'no key');
    hs_problem(hs(proto => 'HTTP/1.0'), 400, 'HTTP/1.0');
    hs_problem(hs(headers => { Authorization => undef }), 401, 'nobody');
    hs_problem(hs(headers => { Authorization => 'Bearer pkt_nonsense' }), 401, 'unknown token');
    hs_problem(hs(path => '/api/ws?ticket=pwt_nonsense', headers => { Authorization => undef }),
               401, 'unknown ticket');
    $r = hs(method => 'POST');
    is($r->{status}, 405, 'POST /api/ws: 405');
};

section 'session cookie and Origin' => sub {
    my $l = login('alice', 'alicepw');
    ok($l->{cookie}, 'cookie: logged in') or return;
    my $cookie = "poketto_session=$l->{cookie}";
    my $r = hs(headers => { Authorization => undef, Cookie => $cookie,
                            Origin => "http://127.0.0.1:$port" });
    is($r->{status}, 101, 'cookie + own origin: 101');
    close $r->{sock} if $r->{sock};
    $r = hs(headers => { Authorization => undef, Cookie => $cookie, Origin => 'https://app.example' });
    is($r->{status}, 101, 'cookie + PokettoAllowedOrigins: 101');
    close $r->{sock} if $r->{sock};
    hs_problem(hs(headers => { Authorization => undef, Cookie => $cookie,
                               Origin => 'https://evil.example' }), 403, 'cookie + foreign origin');
    $r = hs(headers => { Origin => 'https://evil.example' });
    is($r->{status}, 101, 'Bearer: the Origin does not matter');
    close $r->{sock} if $r->{sock};
    # a ticket for the cookie session needs the CSRF token like any change
    status_is(req(POST => '/api/ws-ticket', auth => { cookie => $l->{cookie} }), 403,
              'ticket by cookie without X-CSRF-Token: 403');
    my $t = json_ok(req(POST => '/api/ws-ticket', auth => { cookie => $l->{cookie}, csrf => $l->{csrf} }),
                    200, 'ticket by cookie + CSRF');
    like($t->{ticket} // '', qr/^pwt_[A-Za-z0-9_-]{40,}$/, 'ticket: a secret');
};

section 'tickets' => sub {
    my $t = json_ok(req(POST => '/api/ws-ticket', auth => 'alice'), 200, 'ticket');
    iso_ok($t->{expires}, 'ticket: expires');
    # wrong origin first: refused, and the ticket is not used up by that
    my $h = ws_start("/api/ws?ticket=$t->{ticket}", '--origin', 'https://evil.example');
    ws_pump([$h], sub { ws_closed($h) }, 10);
    is(ws_closed($h), 'REFUSED 403', 'ticket from a foreign origin: 403');
    ws_stop($h);
    $h = ws_start("/api/ws?ticket=$t->{ticket}", '--origin', 'https://app.example',
                  '--send', '{"type":"ping"}', '--count', 1);
    ws_pump([$h], sub { ws_closed($h) }, 10);
    is_deeply(ws_msgs($h), [{ type => 'pong' }], 'ticket: open, {"type":"ping"} -> pong');
    is(ws_closed($h), 'CLOSED 1000 ', 'ticket: closed with 1000, echoed');
    ws_stop($h);
    $h = ws_start("/api/ws?ticket=$t->{ticket}", '--origin', 'https://app.example');
    ws_pump([$h], sub { ws_closed($h) }, 10);
    is(ws_closed($h), 'REFUSED 401', 'a ticket works once');
    ws_stop($h);
    my $t2 = json_ok(req(POST => '/api/ws-ticket', auth => 'alice'), 200, 'ticket 2');
    sleep 3.5;                          # PokettoWsTicketLifetime 3
    $h = ws_start("/api/ws?ticket=$t2->{ticket}");
    ws_pump([$h], sub { ws_closed($h) }, 10);
    is(ws_closed($h), 'REFUSED 401', 'an expired ticket: 401');
    ws_stop($h);
    is(db_value("SELECT COUNT(*) FROM ws_tickets WHERE ticket_hash NOT LIKE 'x%'") + 0 <= 1, 1,
       'used and expired tickets are gone from the table');
};

section 'node ws client' => sub {
    my $node = "$BIN/node/node_modules/ws/package.json";
    SKIP: {
        skip('npm ws is not installed (tools/deps.sh)', 3) unless -r $node && -x '/usr/bin/node';
        my $t = json_of(req(POST => '/api/ws-ticket', auth => 'alice')) // {};
        my $after = last_id();
        my $out = `/usr/bin/node $BIN/ws-node.js ws://127.0.0.1:$port/api/ws?ticket=$t->{ticket} https://app.example $after 2>&1`;
        like($out, qr/^open$/m, 'node ws: open with a ticket');
        like($out, qr/^message \{"type":"resumed","last":$after\}$/m, 'node ws: resume -> resumed');
        like($out, qr/^close 1000$/m, 'node ws: closed with 1000');
    }
};

# =====================================================================================
my %EXPECT = (
    'unmasked' => 1002, 'rsv1' => 1002, 'rsv2' => 1002, 'rsv3' => 1002,
    'opcode-3' => 1002, 'opcode-11' => 1002, 'ping-fragmented' => 1002, 'ping-126' => 1002,
    'close-126' => 1002, 'length-64-top-bit' => 1002, 'utf8-invalid' => 1007,
    'utf8-surrogate' => 1007, 'utf8-split-invalid' => 1007, 'utf8-split-truncated' => 1007,
    'too-big' => 1009, 'too-big-fragmented' => 1009, 'continuation-first' => 1002,
    'text-inside-fragmented' => 1002, 'close-1-byte' => 1002, 'close-999' => 1002,
    'close-1004' => 1002, 'close-1005' => 1002, 'close-1006' => 1002, 'close-1015' => 1002,
    'close-5000' => 1002, 'close-reason-invalid' => 1007,
);
my %EXPECT_SEQ = (
    'close-1000' => 'CLOSE:1000 EOF', 'close-3001' => 'CLOSE:3001 EOF',
    'close-empty' => 'CLOSE:1000 EOF', 'data-after-close' => 'CLOSE:1000 EOF',
    'ping' => 'PONG:hello CLOSE:1000 EOF', 'binary' => 'MSG:error CLOSE:1000 EOF',
    'not-json' => 'MSG:error MSG:pong CLOSE:1000 EOF',
    'unknown-type' => 'MSG:error MSG:pong CLOSE:1000 EOF',
    'bad-resume' => 'MSG:error MSG:pong CLOSE:1000 EOF',
    'utf8-split-valid' => 'MSG:pong CLOSE:1000 EOF',
    'fragments-and-ping' => 'PONG:mid MSG:pong CLOSE:1000 EOF',
    'max-size-ok' => 'MSG:error CLOSE:1000 EOF',
);

section 'protocol: hand-built frames' => sub {
    open(my $fh, '-|', $PY, "$BIN/ws-raw.py", 'cases', $port, $ALICE_TOKEN) or die $!;
    my %got = map { chomp; /^(\S+) ?(.*)$/ ? ($1 => $2) : () } <$fh>;
    close $fh;
    for my $case (sort keys %EXPECT) {
        is($got{$case}, "CLOSE:$EXPECT{$case} EOF", "$case: close $EXPECT{$case}, then the connection ends");
    }
    for my $case (sort keys %EXPECT_SEQ) {
        is($got{$case}, $EXPECT_SEQ{$case}, "$case: $EXPECT_SEQ{$case}");
    }
    is(scalar(keys %got), scalar(keys %EXPECT) + scalar(keys %EXPECT_SEQ), 'every case ran');
    survived_ok('protocol');
};

# =====================================================================================
section 'events reach WebSockets on several children' => sub {
    my $after = last_id();
    my (@hs, %children);
    # under prefork each WebSocket holds a process; under event/worker connections are
    # opened until they are spread over two children at least
    for my $i (1 .. 8) {
        my $h = ws_start('/api/ws', '--header', "Authorization: Bearer $ALICE_TOKEN",
                         '--send', qq({"type":"resume","after":$after}), '--timeout', 40,
                         '--count', 1000);
        ws_pump([$h], sub { resumed_of($h) || ws_closed($h) }, 10);
        if ((ws_closed($h) // '') eq 'REFUSED 503') {   # that child holds its share
            ws_stop($h);
            next;
        }
        push @hs, $h;
        my $c = child_of_port(ws_open_port($h));
        $children{$c}++ if $c;
        last if $i >= 3 && keys(%children) >= 2;
    }
    my $n = grep { resumed_of($_) } @hs;
    is($n, scalar @hs, 'every client opened and resumed');
    ok(keys(%children) >= 2, 'the WebSockets are held by ' . scalar(keys %children) . ' children');
    # changes made by requests to whatever child takes them
    my @ids;
    for my $i (1 .. 3) {
        my $ua = new_ua();
        my $res = req(POST => '/api/items', ua => $ua, auth => 'alice',
                      json => { url => "https://example.com/$u-spread-$i" });
        my $d = json_of($res) // {};
        push @ids, $d->{item}{id} if $d->{item};
    }
    settle('alice', @ids);
    my $want = ids_after($after);
    ws_pump(\@hs, sub { !grep { scalar(@{ event_ids_of($_) }) < @$want } @hs }, 15);
    my $i = 0;
    for my $h (@hs) {
        ++$i;
        is_deeply(event_ids_of($h), $want, "client $i (child " . (child_of_port(ws_open_port($h)) // '?')
                  . '): every event, in order, once');
    }
    my ($m) = grep { $_->{type} =~ /^item\./ } @{ ws_msgs($hs[0]) };
    ok($m && $m->{item} && $m->{id} && $m->{event}, 'a message: type, id, event, item');
    ws_stop($_) for @hs;
};

section 'resume after a reconnect' => sub {
    my $after = last_id();
    my $h = ws_start('/api/ws', '--header', "Authorization: Bearer $ALICE_TOKEN",
                     '--send', qq({"type":"resume","after":$after}), '--count', 1000, '--timeout', 30);
    ws_pump([$h], sub { resumed_of($h) }, 10);
    my ($res, $item) = save_item('alice', "https://example.com/$u-r1");
    settle('alice', $item ? $item->{id} : ());
    my $want1 = ids_after($after);
    ws_pump([$h], sub { @{ event_ids_of($h) } >= @$want1 }, 10);
    is_deeply(event_ids_of($h), $want1, 'first connection: its events');
    ws_stop($h);
    my $seen = $want1->[-1] // $after;
    # missed while disconnected
    my @ids;
    for my $i (2 .. 4) {
        my ($r, $it) = save_item('alice', "https://example.com/$u-r$i");
        push @ids, $it->{id} if $it;
    }
    settle('alice', @ids);
    my $missed = ids_after($seen);
    ok(@$missed >= 3, 'events were missed: ' . scalar @$missed);
    $h = ws_start('/api/ws', '--header', "Authorization: Bearer $ALICE_TOKEN",
                  '--send', qq({"type":"resume","after":$seen}), '--count', 1000, '--timeout', 30);
    ws_pump([$h], sub { resumed_of($h) }, 10);
    is_deeply(event_ids_of($h), $missed, 'resume: exactly the missed events, in order, before "resumed"');
    is((resumed_of($h) // {})->{last}, $missed->[-1], 'resumed: last is the newest event id');
    ws_stop($h);
};

# =====================================================================================
section 'an idle WebSocket outlives mod_reqtimeout; pings' => sub {
    my $h = ws_start('/api/ws', '--header', "Authorization: Bearer $ALICE_TOKEN",
                     '--delay', 10, '--send', '{"type":"ping"}', '--count', 1, '--timeout', 20);
    ws_pump([$h], sub { ws_closed($h) }, 25);
    is_deeply(ws_msgs($h), [{ type => 'pong' }], 'after 10 s idle (header/body time-outs 8/10 s): still open');
    is(ws_closed($h), 'CLOSED 1000 ', 'closed with 1000');
    ws_stop($h);
    open(my $fh, '-|', $PY, "$BIN/ws-raw.py", 'nopong', $port, $ALICE_TOKEN, 12) or die $!;
    chomp(my $l = <$fh> // '');
    close $fh;
    like($l, qr/^PINGS [1-9]\d* EOF/, "a client that never answers pings is dropped ($l)");
    my ($t) = $l =~ /EOF ([\d.]+)/;
    ok(defined $t && $t >= 3 && $t <= 8, 'dropped after two ping intervals (2 s each)');
};

section 'a client that never reads is dropped' => sub {
    open(my $fh, '-|', $PY, "$BIN/ws-raw.py", 'noread', $port, $ALICE_TOKEN, 20) or die $!;
    chomp(my $l = <$fh> // '');
    close $fh;
    like($l, qr/^DROPPED/, "dropped ($l)");
    my $log = do { local $/; open(my $e, '<', t_logs_dir() . '/error_log'); <$e> // '' };
    like($log, qr/AH10852: .*does not read/, 'error_log: AH10852 (send buffer full)');
    status_is(req(GET => '/api/session', auth => 'alice'), 200, 'the server answers');
};

section 'slowloris on the handshake' => sub {
    open(my $fh, '-|', $PY, "$BIN/ws-raw.py", 'slowloris', $port, 30) or die $!;
    chomp(my $l = <$fh> // '');
    close $fh;
    like($l, qr/^CUT/, "a handshake dribbled a byte a second is cut ($l)");
    my ($t) = $l =~ /^CUT ([\d.]+)/;
    ok(defined $t && $t < 20, 'by mod_reqtimeout (header=8)');
};

section 'frames sent behind the handshake, before the 101' => sub {
    # RFC 6455 4.1: a client waits for the 101; one that does not still gets its frames
    # read (detached: what httpd's input filter held already goes to the reader first).
    # A client that does wait may still send before the handler has detached.
    open(my $fh, '-|', $PY, "$BIN/ws-raw.py", 'early', $port, $ALICE_TOKEN, 4) or die $!;
    chomp(my $l = <$fh> // '');
    close $fh;
    is($l, 'STATUS:101 PONGS:38 MSG:pong', "38 pings and a message in the handshake's write: all answered ($l)");
    # 24 KB: more than httpd's input filter reads at once (8000 bytes) while the handler
    # detaches the connection; the rest waits in the socket (the pongs, 24 KB, stay below
    # PokettoWsSendBuffer, 64 KB here, while the client is still writing)
    open($fh, '-|', $PY, "$BIN/ws-raw.py", 'early', $port, $ALICE_TOKEN, 24) or die $!;
    chomp($l = <$fh> // '');
    close $fh;
    is($l, 'STATUS:101 PONGS:231 MSG:pong', "24 KB of pings in the handshake's write: all answered ($l)");
    status_is(req(GET => '/api/session', auth => 'alice'), 200, 'the server answers');
};

section 'the handshake on a kept-alive connection' => sub {
    # an HTTP/1.1 connection that served a request already is upgraded (and, parked
    # without TLS, detached) like a new one
    open(my $fh, '-|', $PY, "$BIN/ws-raw.py", 'keepalive', $port, $ALICE_TOKEN) or die $!;
    chomp(my $l = <$fh> // '');
    close $fh;
    is($l, 'FIRST:200 STATUS:101 MSG:pong', "GET /api/session, then the WebSocket on the same connection ($l)");
};

section 'thread mode: PokettoWsMaxPerChild (2 here)' => sub {
    SKIP: {
        skip('prefork: one connection per process', 5) if $MPM eq 'prefork';
        skip('parked mode: no per-child cap', 5) if ws_parked();
        my (@open, $refused);
        for my $i (1 .. 40) {
            my $r = hs();
            if ($r->{status} == 101) { push @open, $r->{sock}; next }
            $refused = $r;
            last;
        }
        ok($refused, 'beyond the cap a handshake is refused (' . scalar(@open) . ' open)');
        is(($refused // {})->{status}, 503, 'the cap: 503');
        is(($refused // {})->{headers}{'retry-after'}, '5', 'the cap: Retry-After');
        # an expected back-off, not a server error: the problem's log line is at info
        my $log = do { local $/; open(my $e, '<', t_logs_dir() . '/error_log'); <$e> // '' };
        my @cap = grep { /AH10720: 503 too many WebSockets/ } split /\n/, $log;
        ok(@cap && !grep({ !/\[poketto:info\]/ } @cap),
           'the cap is logged at info, not as an error (' . scalar(@cap) . ' line(s))');
        status_is(req(GET => '/api/session', auth => 'alice'), 200, 'plain HTTP is served meanwhile');
        close $_ for @open;
    }
};

# =====================================================================================
section 'graceful restart: 1001, then a resume loses nothing' => sub {
    my $parent = httpd_parent_pid();
    my $after = last_id();
    my $h = ws_start('/api/ws', '--header', "Authorization: Bearer $ALICE_TOKEN",
                     '--send', qq({"type":"resume","after":$after}), '--until-close',
                     '--timeout', 30);
    ws_pump([$h], sub { resumed_of($h) }, 10);
    ok(resumed_of($h), 'open');
    ok(kill('USR1', $parent), 'SIGUSR1 to the parent');
    ws_pump([$h], sub { ws_closed($h) }, 15);
    like(ws_closed($h) // '', qr/^CLOSED 1001\b/, 'closed with 1001 (going away)');
    ws_stop($h);
    survived_ok('graceful') or return;
    keep_server_up();
    my $seen = event_ids_of($h)->[-1] // $after;
    my ($res, $item) = save_item('alice', "https://example.com/$u-graceful");
    settle('alice', $item ? $item->{id} : ());
    my $missed = ids_after($seen);
    ok(@$missed >= 1, 'an event after the restart');
    $h = ws_start('/api/ws', '--header', "Authorization: Bearer $ALICE_TOKEN",
                  '--send', qq({"type":"resume","after":$seen}), '--count', 1000, '--timeout', 30);
    ws_pump([$h], sub { resumed_of($h) }, 10);
    is_deeply(event_ids_of($h), $missed, 'resume after the restart: nothing lost');
    ws_stop($h);
};

section 'holding mode' => sub {
    my $mode = $ENV{POKETTO_WS_MODE} // 'auto';
    my $want = $mode eq 'thread' ? 'thread' : $mode eq 'parked' ? ($MPM eq 'event' ? 'parked' : 'thread')
             : ($MPM eq 'event' ? 'parked' : 'thread');
    is(ws_parked() ? 'parked' : 'thread', $want, "PokettoWsMode $mode under $MPM: $want mode");
    # parked, on connections without TLS: detached (PokettoWsDetach on by default)
    is(ws_detached() ? 'detached' : 'not', $want eq 'parked' ? 'detached' : 'not',
       "no TLS: " . ($want eq 'parked' ? 'detached' : 'not detached'));
};

section 'detached: httpd logged the 101 as the WebSocket opened' => sub {
    SKIP: {
        skip('not detached here', 5) unless ws_detached();
        my $probe = "probe$$" . int(rand(1e9));
        my $h = ws_start("/api/ws?$probe=1", '--header', "Authorization: Bearer $ALICE_TOKEN",
                         '--send', '{"type":"ping"}', '--count', 2, '--timeout', 10);
        ws_pump([$h], sub { grep { $_->{type} eq 'pong' } @{ ws_msgs($h) } }, 10);
        ok((grep { $_->{type} eq 'pong' } @{ ws_msgs($h) }), 'open: pong');
        # the access log line is httpd's, written when the handler returned (the 101),
        # while the WebSocket is still open
        my $acc = do { local $/; open(my $a, '<', t_logs_dir() . '/access_log'); <$a> // '' };
        like($acc, qr{"GET /api/ws\?$probe=1 HTTP/1.1" 101 }, 'access_log: GET /api/ws 101, the WebSocket still open');
        # server-status of a child names its WebSockets; the child holding this one says
        # detached >= 1 (each status request may reach another child: ask a few times)
        my ($lines, $held, $ios) = (0, 0, -1);
        for (1 .. 30) {
            fresh_connections();
            my $st = req(GET => '/server-status?auto');
            my $b = $st->decoded_content // '';
            my ($t, $p, $d, $io) = $b =~ /^PokettoWsThread: (\d+)\nPokettoWsParked: (\d+)\nPokettoWsDetached: (\d+)\nPokettoWsIoThreads: (\d+)$/m;
            next unless defined $io;
            ++$lines;
            $ios = $io;
            if ($d >= 1 && $p >= $d) { $held = 1; last }
        }
        ok($lines >= 1, 'server-status?auto: PokettoWsThread / PokettoWsParked / PokettoWsDetached / PokettoWsIoThreads');
        is($ios, 2, 'server-status: the child runs PokettoWsIoThreads (2) I/O threads');
        ok($held, 'server-status: a child holds a detached WebSocket (parked >= detached >= 1)');
        ws_stop($h);
    }
};

done_testing();
