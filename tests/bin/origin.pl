#!/usr/bin/perl
# A small scriptable origin for the task engine tests (t/1[0-9][0-9]-*.t): what the test
# httpd cannot do with static files - answer slowly, fail then succeed, stream for ever.
#
#   perl bin/origin.pl LOGFILE [LIFETIME_S]
#
# Listens on 127.0.0.1 on a free port, prints "port N" on stdout, then serves until
# killed (or LIFETIME_S, default 300, has passed: it never outlives a test run).
# One process with a select loop, so that a delay is counted from the moment the
# connection was accepted, however busy the machine (a process per connection was late
# by a second and more under load); the two streaming routes fork. HTTP/1.0-style
# (Connection: close). Every request and some outcomes are appended to LOGFILE:
#   req <unix time> <pid> <path-with-query>
#   sent <id> <bytes>          (/big: bytes written before the end or the client left)
#
# Routes (query parameters; id is any token, echoed in the page's title):
#   /slow?ms=N&id=X      answers N ms after the connection was accepted: an article
#                        titled "Slow page X"
#   /fast?id=X           the article at once
#   /flaky?fails=K&id=X  503 for the first K requests of id X, then the article
#   /big?bytes=N&id=X    an HTML page of N bytes without Content-Length (streamed)
#   /drip?id=X           headers and a first chunk, then one byte a second, for ever
#   anything else        404
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Fcntl qw(:flock O_WRONLY O_APPEND O_CREAT);
use POSIX ();
use Time::HiRes qw(sleep time);

my $log = shift or die "usage: $0 LOGFILE [LIFETIME_S]\n";
my $lifetime = shift // 300;

my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1024,
                                ReuseAddr => 1, Proto => 'tcp', Blocking => 0)
    or die "origin: listen: $!\n";
$| = 1;
print "port ", $srv->sockport, "\n";
close STDOUT;
open STDOUT, '>', '/dev/null';

$SIG{CHLD} = 'IGNORE';
$SIG{PIPE} = 'IGNORE';
my $end = time + $lifetime;

sub logline {
    my $line = shift;
    sysopen(my $fh, $log, O_WRONLY | O_APPEND | O_CREAT) or return;
    flock($fh, LOCK_EX);
    syswrite($fh, "$line\n");
    close $fh;
}

sub article {
    my $title = shift;
    my $p = join "\n", map {
        "<p>Paragraph $_ of the page from the scripted origin. The engine fetched it over a "
        . "real socket, and the extractor should keep every one of these sentences, "
        . "number $_ included, while it drops the navigation around them.</p>"
    } 1 .. 8;
    return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>$title</title></head>"
         . "<body><nav><a href=\"/\">Home</a></nav><article><h1>$title</h1>\n$p\n"
         . "</article><footer>origin.pl</footer></body></html>\n";
}

sub response {
    my ($status, $body) = @_;
    my $reason = { 200 => 'OK', 404 => 'Not Found', 503 => 'Service Unavailable' }->{$status}
                 // 'Status';
    return "HTTP/1.1 $status $reason\r\nConnection: close\r\n"
         . "Content-Type: text/html; charset=utf-8\r\n"
         . "Content-Length: " . length($body) . "\r\n\r\n" . $body;
}

my %hits;                                   # /flaky: requests per id
my %conn;                                   # fileno => { sock, in, accepted, due, out }

# the streaming routes run in a child of their own (blocking writes, long sleeps)
sub stream {
    my ($c, $path, $id, $q) = @_;
    my $pid = fork;
    return if !defined $pid || $pid > 0;
    close $srv;
    close $_->{sock} for grep { $_->{sock} != $c } values %conn;
    $c->blocking(1);
    if ($path eq '/big') {
        my $want = $q->{bytes} // 1_000_000;
        my $sent = 0;
        syswrite($c, "HTTP/1.1 200 OK\r\nConnection: close\r\n"
                     . "Content-Type: text/html; charset=utf-8\r\n\r\n");
        $sent += syswrite($c, "<!DOCTYPE html><html><head><title>Big $id</title></head><body>")
                 // 0;
        my $chunk = "<p>" . ("big page filler text " x 200) . "</p>\n";
        while ($sent < $want) {
            my $n = syswrite($c, $chunk);
            last unless $n;
            $sent += $n;
        }
        logline("sent $id $sent");
    }
    else {
        syswrite($c, "HTTP/1.1 200 OK\r\nConnection: close\r\n"
                     . "Content-Type: text/html; charset=utf-8\r\n\r\n"
                     . "<!DOCTYPE html><html><head><title>Drip $id</title></head><body><p>");
        for (1 .. 120) {
            sleep 1;
            syswrite($c, 'x') or last;
        }
    }
    POSIX::_exit(0);
}

my $sel = IO::Select->new($srv);

sub drop {
    my $k = shift;
    my $c = delete $conn{$k} or return;
    $sel->remove($c->{sock});
    close $c->{sock};
}

sub request_complete {
    my $c = shift;
    my ($line) = $c->{in} =~ /^([^\r\n]*)\r?\n/;
    my ($target) = ($line // '') =~ m{^\S+\s+(\S+)};
    $target //= '/';
    logline(sprintf "req %.3f %d %s", time, $$, $target);
    my ($path, $qs) = split /\?/, $target, 2;
    my %q = map { my ($k, $v) = split /=/, $_, 2; ($k => $v // '') } split /&/, $qs // '';
    my $id = $q{id} // 'none';
    if ($path eq '/big' || $path eq '/drip') {
        stream($c->{sock}, $path, $id, \%q);
        return 'drop';
    }
    if ($path eq '/slow' || $path eq '/fast') {
        $c->{due} = $c->{accepted} + ($path eq '/slow' ? ($q{ms} // 0) / 1000 : 0);
        $c->{out} = response(200, article("Slow page $id"));
    }
    elsif ($path eq '/flaky') {
        $c->{due} = 0;
        $c->{out} = ++$hits{$id} <= ($q{fails} // 1)
            ? response(503, "<html><body>try again</body></html>\n")
            : response(200, article("Flaky page $id"));
    }
    else {
        $c->{due} = 0;
        $c->{out} = response(404, "<html><body>no such page</body></html>\n");
    }
    return 'wait';
}

while (time < $end) {
    # sleep until the next answer is due (or something arrives)
    my $now = time;
    my $next = 1;
    for my $c (values %conn) {
        next unless defined $c->{due};
        my $d = $c->{due} - $now;
        $next = $d if $d < $next;
    }
    $next = 0 if $next < 0;
    for my $s ($sel->can_read($next)) {
        if ($s == $srv) {
            while (my $c = $srv->accept) {
                $c->blocking(0);
                $conn{ fileno $c } = { sock => $c, in => '', accepted => time };
                $sel->add($c);
            }
            next;
        }
        my $k = fileno $s;
        my $c = $conn{$k} or next;
        my $n = sysread($s, my $buf, 65536);
        if (!$n) {                          # the client left (or an error)
            drop($k) unless defined $n && $! == POSIX::EAGAIN;
            next;
        }
        next if defined $c->{due};          # the request was read already
        $c->{in} .= $buf;
        if ($c->{in} =~ /\r?\n\r?\n/) {
            drop($k) if request_complete($c) eq 'drop';
        }
    }
    $now = time;
    for my $k (keys %conn) {
        my $c = $conn{$k};
        next unless defined $c->{due} && $c->{due} <= $now;
        $c->{sock}->blocking(1);
        syswrite($c->{sock}, $c->{out});
        drop($k);
    }
}
