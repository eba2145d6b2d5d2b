# Behind mod_ssl: the API, a WebSocket (wss://) and an event stream through the TLS
# connection filters. Apache::Test's CA signs the server's certificate; the clients
# verify the chain with it (not the host name: the certificate names the servername).
#   * GET /api/session over https answers 200;
#   * a wss:// WebSocket (python3-websockets) opens, answers {"type":"ping"} with
#     {"type":"pong"}, receives the item.saved of a save made over plain http, and a new
#     one resumes with exactly the events after it;
#   * a client message larger than a TLS record (40 KB, three records) is read whole;
#   * an event stream (GET /api/events over https) receives an item.saved.
use strict;
use warnings;
use Apache::Test ();
use Test::More;
use PokettoTest;
use IO::Socket::SSL ();
use JSON::PP ();
use IO::Select ();
use Time::HiRes qw(time);
use File::Spec ();
use File::Basename ();

my $tls_port = Apache::Test::vars('poketto_tls_port');
my $ca = Apache::Test::vars('sslca') . '/asf/certs/ca.crt';
plan skip_all => 'no TLS virtual host (mod_ssl not loaded)' unless $tls_port && -f $ca;

my $PY = '/usr/bin/python3';
my $BIN = File::Spec->rel2abs(File::Basename::dirname(__FILE__) . '/../bin');
my $u = uniq('tls');
my $JSON = JSON::PP->new->utf8->canonical;

# a raw HTTPS request -> (status, body)
sub https_get {
    my ($path, $token) = @_;
    my $s = IO::Socket::SSL->new(PeerAddr => '127.0.0.1', PeerPort => $tls_port,
                                 SSL_ca_file => $ca, SSL_verifycn_scheme => 'none',
                                 SSL_verify_mode => IO::Socket::SSL::SSL_VERIFY_PEER(),
                                 Timeout => 10)
        or return (0, "connect: $IO::Socket::SSL::SSL_ERROR");
    print $s "GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $token\r\n"
           . "Connection: close\r\n\r\n";
    local $/;
    my $all = <$s> // '';
    close $s;
    my ($code) = $all =~ m{^HTTP/1\.1 (\d{3})};
    my (undef, $body) = split /\r\n\r\n/, $all, 2;
    return ($code // 0, $body // '');
}

# ws-client.py over wss://, in the background -> {fh, pid}
sub wss_start {
    my ($path, @args) = @_;
    my $pid = open(my $fh, '-|', $PY, "$BIN/ws-client.py", "wss://127.0.0.1:$tls_port$path",
                   '--cafile', $ca, @args) or die "ws-client.py: $!";
    return { fh => $fh, pid => $pid };
}

sub wss_line {
    my ($h, $timeout) = @_;
    my $line;
    eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm($timeout // 15);
        $line = readline($h->{fh});
        alarm(0);
    };
    alarm(0);
    chomp $line if defined $line;
    return $line // '';
}

sub wss_end { my $h = shift; kill 'TERM', $h->{pid}; close $h->{fh}; waitpid($h->{pid}, 0) }

my $token = token_of('alice');

section 'https: the API answers through mod_ssl' => sub {
    my ($code, $body) = https_get('/api/session', $token);
    is($code, 200, 'GET /api/session over https: 200');
    my $d = eval { $JSON->decode($body) } // {};
    is($d->{user}{login} // $d->{login} // '', 'alice', 'as alice');
};

section 'wss: events, ping, resume and close through the TLS filters' => sub {
    my $h = wss_start('/api/ws', '--header', "Authorization: Bearer $token",
                      '--send', '{"type":"ping"}',
                      '--send-then', '{"type":"ping","pad":"' . ('x' x 40000) . '"}',
                      '--count', 4, '--timeout', 20);
    my $open = wss_line($h);
    like($open, qr/^OPEN \d+$/, 'wss: open');
    like(wss_line($h), qr/^MSG \{"type":"pong"\}/, 'wss: ping -> pong');
    # TLS changes the bytes: the WebSocket stays on the connection's filters (parked
    # under event: never detached, PokettoWsDetach being on)
    my ($cport) = $open =~ /^OPEN (\d+)/;
    my $log = do { local $/; open(my $e, '<', t_logs_dir() . '/error_log'); <$e> // '' };
    my $cp = $cport // 0;
    my ($how) = $log =~ /AH10856: [^\n]*\(127\.0\.0\.1:$cp\) opened \((\w+(?:, detached)?) mode/;
    my $mode = $ENV{POKETTO_WS_MODE} // 'auto';
    my $want = ($ENV{POKETTO_TEST_MPM} // '') eq 'event' && $mode ne 'thread' ? 'parked' : 'thread';
    is($how // 'no log line', $want, "wss: held in $want mode, not detached");
    # (--send-then: after the first pong, a 40 KB ping: three TLS records to read)
    like(wss_line($h), qr/^MSG \{"type":"pong"\}/,
         'wss: a 40 KB message, several TLS records, is read whole and answered');
    my ($res, $item) = save_item('alice', "https://example.com/$u/one");
    my $id = $item ? $item->{id} : -1;
    my $line = wss_line($h);
    my ($json) = $line =~ /^MSG (.*)$/;
    my $m = eval { $JSON->decode($json // '') } // {};
    is($m->{type} // '', 'item.saved', 'wss: item.saved of a save made over http');
    is($m->{id} // 0, $id, 'wss: of that item');
    my $seen = $m->{event} // 0;
    wss_end($h);

    # resume: a new connection asks for what came after the first event
    my $r = wss_start('/api/ws', '--header', "Authorization: Bearer $token",
                      '--send', qq({"type":"resume","after":$seen}), '--count', 50,
                      '--timeout', 10);
    like(wss_line($r), qr/^OPEN \d+$/, 'wss resume: open');
    my @ids;
    while (1) {
        my $l = wss_line($r, 12);
        last if $l eq '' || $l =~ /^(CLOSED|TIMEOUT)/;
        my ($j) = $l =~ /^MSG (.*)$/;
        my $d = eval { $JSON->decode($j // '') } // {};
        if (($d->{type} // '') eq 'resumed') {
            push @ids, "resumed:" . ($d->{last} // '?');
            last;
        }
        push @ids, $d->{event} // '?';
    }
    my @want = map { $_->[0] } db_rows("SELECT id FROM events WHERE user_id = "
                                       . user_id_of('alice') . " AND id > $seen ORDER BY id");
    is("@ids", join(' ', @want, 'resumed:' . ($want[-1] // $seen)),
       'wss resume: exactly the events after the first one, then resumed');
    wss_end($r);
};

section 'https: an event stream through mod_ssl' => sub {
    my $s = IO::Socket::SSL->new(PeerAddr => '127.0.0.1', PeerPort => $tls_port,
                                 SSL_ca_file => $ca, SSL_verifycn_scheme => 'none',
                                 SSL_verify_mode => IO::Socket::SSL::SSL_VERIFY_PEER(),
                                 Timeout => 10);
    ok($s, 'sse: TLS connection') or return;
    print $s "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
           . "Authorization: Bearer $token\r\n\r\n";
    my ($buf, $saved_id) = ('', -1);
    my $deadline = time + 15;
    my $sel = IO::Select->new($s);
    while (time < $deadline && $buf !~ /event: item\.saved\ndata: \{[^\n]*"id":$saved_id\b/) {
        if ($saved_id < 0 && $buf =~ /: subscribed\n/) {
            my (undef, $item) = save_item('alice', "https://example.com/$u/sse");
            $saved_id = $item ? $item->{id} : 0;
        }
        # (IO::Socket::SSL may hold decrypted bytes that select does not see)
        next unless $s->pending || $sel->can_read(0.5);
        my $n = sysread($s, my $chunk, 65536);
        last unless $n;
        $buf .= $chunk;
    }
    like($buf, qr{^HTTP/1\.1 200}, 'sse: 200');
    like($buf, qr/event: item\.saved\ndata: \{[^\n]*"id":$saved_id\b/,
         'sse: the item.saved of a save, over TLS');
    close $s;
};

done_testing();
