# Task engine, server-side request forgery guard: the address actually connected to is
# checked, after DNS and on every redirect. The test config allows only 127.0.0.1/32
# (PokettoFetchAllow); the rest of loopback stays refused, and the test httpd (listening
# on 0.0.0.0) would answer on any of them - so its access_log proves nothing got through.
# Every target here is a loopback address: nothing is sent off this machine.
use strict;
use warnings;
use Apache::Test ();
use Test::More;
use PokettoTest;

my $u = uniq('ssrf');
my $port = port();
my $local = "http://127.0.0.1:$port/origin";
my $loop = 'a loopback address';

# name => [ url as saved, exact error, token that must never reach the server ]
my %case = (
    ip_127_0_0_2 => [ "http://127.0.0.2:$port/origin/article.html?$u-ax",
                      "refused to fetch: 127.0.0.2 is $loop" ],
    ip_127_0_0_3 => [ "http://127.0.0.3:$port/origin/article.html?$u-bx",
                      "refused to fetch: 127.0.0.3 is $loop" ],
    ipv6_loopback => [ "http://[::1]:$port/origin/article.html?$u-cx",
                       "refused to fetch: ::1 is $loop" ],
    ipv4_mapped => [ "http://[::ffff:127.0.0.2]:$port/origin/article.html?$u-dx",
                     "refused to fetch: ::ffff:127.0.0.2 embeds 127.0.0.2, $loop" ],
    unspecified => [ "http://0.0.0.0:$port/origin/article.html?$u-ex",
                     'refused to fetch: 0.0.0.0 is the unspecified address' ],
    decimal_ip => [ "http://2130706434:$port/origin/article.html?$u-fx",
                    "refused to fetch: 127.0.0.2 is $loop" ],
    hex_ip => [ "http://0x7f000003:$port/origin/article.html?$u-gx",
                "refused to fetch: 127.0.0.3 is $loop" ],
    resolved_name => [ "http://denied.test:$port/origin/article.html?$u-hx",
                       "refused to fetch: 127.0.0.2 is $loop" ],
    redirect_ip => [ "$local/r/to-127-0-0-2?$u-ix", "refused to fetch: 127.0.0.2 is $loop" ],
    redirect_name => [ "$local/r/to-denied-name?$u-jx", "refused to fetch: 127.0.0.2 is $loop" ],
    redirect_ipv6 => [ "$local/r/to-ipv6-loopback?$u-kx", "refused to fetch: ::1 is $loop" ],
    redirect_file => [ "$local/r/to-file?$u-lx",
                       'redirected to an address that is not http or https' ],
);

my (%tid, %iid, %given);
for my $k (sort keys %case) {
    my ($res, $item) = save_item('alice', $case{$k}[0]);
    status_is($res, 202, "$k: saved");
    $tid{$k} = task_of($res) // 0;
    $iid{$k} = $item ? $item->{id} : 0;
    $given{$k} = $item ? $item->{url} : '';
}
# the allowed origin, for contrast
my ($cres, $citem) = save_item('alice', "$local/article.html?$u-control");
my $ctid = task_of($cres) // 0;

my $last = wait_tasks([ $ctid, values %tid ], timeout => 20);

for my $k (sort keys %case) {
    section $k => sub {
        my $d = json_ok($last->{ $tid{$k} }, 200, "$k: task failed") // {};
        is($d->{state}, 'failed', "$k: state failed");
        is($d->{error}, $case{$k}[1], "$k: error");
        is($d->{attempts}, 1, "$k: not retried");
        my $it = get_item('alice', $iid{$k}) // {};
        is($it->{state}, 'failed', "$k: item failed");
        is($it->{error}, $case{$k}[1], "$k: item error");
        ok(!defined $it->{text} || $it->{text} eq '', "$k: no text was stored");
    };
}

section 'numeric hosts are stored as dotted quads' => sub {
    is($given{decimal_ip}, "http://127.0.0.2:$port/origin/article.html?$u-fx",
       '2130706434 is 127.0.0.2');
    is($given{hex_ip}, "http://127.0.0.3:$port/origin/article.html?$u-gx",
       '0x7f000003 is 127.0.0.3');
};

section 'nothing reached a refused address' => sub {
    # the targets of the direct cases were never requested at all
    for my $k (qw(ip_127_0_0_2 ip_127_0_0_3 ipv6_loopback ipv4_mapped unspecified decimal_ip
                  hex_ip resolved_name)) {
        my ($tok) = $case{$k}[0] =~ /\?(\S+)$/;
        is(access_log_count(qr/\Q$tok\E/), 0, "$k: no request reached the server");
    }
    # redirects: the allowed first hop was asked, its target never
    for my $k (qw(redirect_ip redirect_name redirect_ipv6)) {
        my ($path, $tok) = $case{$k}[0] =~ m{^\Q$local\E(/\S+)\?(\S+)$};
        is(access_log_count(qr{"GET /origin\Q$path\E\?\Q$tok\E }), 1, "$k: the first hop was asked");
        is(access_log_count(qr{"GET /origin/article\.html\?\Q$tok\E }), 0,
           "$k: the refused target was not");
    }
    status_is($last->{$ctid}, 303, 'the allowed origin 127.0.0.1 is fetched');
    is((get_item('alice', $citem ? $citem->{id} : 0) // {})->{state}, 'ready',
       'the allowed origin: item ready');
};

section 'schemes other than http(s) are refused when saved' => sub {
    my $before = snapshot('alice');
    for my $url ('file:///etc/passwd', "gopher://127.0.0.1:$port/_GET%20/", "ftp://127.0.0.1/x",
                 'dict://127.0.0.1:11211/stat') {
        problem_ok(req(POST => '/api/items', auth => 'alice', json => { url => $url }), 422,
                   "save $url", field => 'url');
    }
    problem_ok(req(POST => '/api/items', auth => 'alice',
                   json => { url => "http://user:secret\@127.0.0.1:$port/origin/article.html" }),
               422, 'save a URL with credentials', field => 'url');
    unchanged_ok($before, 'refused schemes', 'alice');
};

done_testing;
