#!/usr/bin/perl
# A small scriptable origin for the task engine tests (t/1[0-9][0-9]-*.t): what the test
# httpd cannot do with static files - answer slowly, fail then succeed, stream for ever.
#
#   perl bin/origin.pl LOGFILE [LIFETIME_S]
#
# Listens on 127.0.0.1 on a free port, prints "port N" on stdout, then serves until
# killed (or LIFETIME_S, default 300, has passed: it never outlives a test run).
# One process per connection, HTTP/1.0-style (Connection: close). Every request and
# some outcomes are appended to LOGFILE, one line each:
#   req <pid> <path-with-query>
#   sent <id> <bytes>          (/big: bytes written before the end or the client left)
#
# Routes (query parameters; id is any token, echoed in the page's title):
#   /slow?ms=N&id=X      waits N ms, then an article titled "Slow page X"
#   /fast?id=X           the article at once
#   /flaky?fails=K&id=X  503 for the first K requests of id X, then the article
#   /big?bytes=N&id=X    an HTML page of N bytes without Content-Length (streamed)
#   /drip?id=X           headers and a first chunk, then one byte a second, for ever
#   anything else        404
use strict;
use warnings;
use IO::Socket::INET;
use Fcntl qw(:flock O_WRONLY O_APPEND O_CREAT);
use POSIX ();
use Time::HiRes qw(sleep);

my $log = shift or die "usage: $0 LOGFILE [LIFETIME_S]\n";
my $lifetime = shift // 300;
my $statedir = "$log.state";
mkdir $statedir;

my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 512,
                                ReuseAddr => 1, Proto => 'tcp')
    or die "origin: listen: $!\n";
$| = 1;
print "port ", $srv->sockport, "\n";
close STDOUT;
open STDOUT, '>', '/dev/null';

$SIG{CHLD} = 'IGNORE';
$SIG{PIPE} = 'IGNORE';
$SIG{ALRM} = sub { exit 0 };
alarm $lifetime;

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

sub respond {
    my ($c, $status, $body, %h) = @_;
    my $reason = { 200 => 'OK', 404 => 'Not Found', 503 => 'Service Unavailable' }->{$status}
                 // 'Status';
    my $head = "HTTP/1.1 $status $reason\r\nConnection: close\r\n"
             . "Content-Type: " . ($h{type} // 'text/html; charset=utf-8') . "\r\n"
             . "Content-Length: " . length($body) . "\r\n\r\n";
    syswrite($c, $head . $body);
}

# hits of one id on a route, counted across the forked processes
sub bump {
    my $key = shift;
    $key =~ s/[^A-Za-z0-9_.-]/_/g;
    my $f = "$statedir/$key";
    open(my $fh, '+>>', $f) or return 1;
    flock($fh, LOCK_EX);
    seek($fh, 0, 0);
    my $n = (<$fh> // 0) + 1;
    truncate($fh, 0);
    print $fh $n;
    close $fh;
    return $n;
}

sub handle {
    my $c = shift;
    local $/ = "\r\n";
    my $line = <$c> // return;
    while (defined(my $h = <$c>)) { last if $h eq "\r\n" || $h eq "\n" }
    my ($method, $target) = $line =~ m{^(\S+)\s+(\S+)} or return;
    logline("req $$ $target");
    my ($path, $q) = split /\?/, $target, 2;
    my %q = map { my ($k, $v) = split /=/, $_, 2; ($k => $v // '') } split /&/, $q // '';
    my $id = $q{id} // 'none';
    if ($path eq '/slow' || $path eq '/fast') {
        sleep(($q{ms} // 0) / 1000) if $path eq '/slow';
        respond($c, 200, article("Slow page $id"));
    }
    elsif ($path eq '/flaky') {
        my $n = bump("flaky-$id");
        if ($n <= ($q{fails} // 1)) {
            respond($c, 503, "<html><body>try again</body></html>\n");
        }
        else {
            respond($c, 200, article("Flaky page $id"));
        }
    }
    elsif ($path eq '/big') {
        my $want = $q{bytes} // 1_000_000;
        syswrite($c, "HTTP/1.1 200 OK\r\nConnection: close\r\n"
                     . "Content-Type: text/html; charset=utf-8\r\n\r\n");
        my $chunk = "<p>" . ("big page filler text " x 200) . "</p>\n";
        my $sent = 0;
        $sent += syswrite($c, "<!DOCTYPE html><html><head><title>Big $id</title></head><body>")
                 // 0;
        while ($sent < $want) {
            my $n = syswrite($c, $chunk);
            last unless $n;
            $sent += $n;
        }
        logline("sent $id $sent");
    }
    elsif ($path eq '/drip') {
        syswrite($c, "HTTP/1.1 200 OK\r\nConnection: close\r\n"
                     . "Content-Type: text/html; charset=utf-8\r\n\r\n"
                     . "<!DOCTYPE html><html><head><title>Drip $id</title></head><body><p>");
        for (1 .. 120) {
            sleep 1;
            syswrite($c, 'x') or last;
        }
    }
    else {
        respond($c, 404, "<html><body>no such page</body></html>\n");
    }
}

while (1) {
    my $c = $srv->accept or next;
    my $pid = fork;
    if (!defined $pid) { close $c; next }
    if ($pid == 0) {
        close $srv;
        alarm 150;
        handle($c);
        close $c;
        POSIX::_exit(0);
    }
    close $c;
}
