# Every child process sees every change at once: a write through one connection is
# visible through the others (under prefork each open connection is held by its own
# child). Guards per-child caches (listings, credentials) against serving stale data.
use strict;
use warnings;
use Apache::Test ();
use Test::More;
use PokettoTest;

my $u = uniq('cons');
my $tag = "$u-t";
my @ua = map { new_ua() } 1 .. 4;

# open the four connections (each stays open: KeepAlive)
for my $i (0 .. $#ua) {
    status_is(req(GET => '/api/session', auth => 'alice', ua => $ua[$i]), 200, "connection $i opened");
}
my $T = JSON::PP::true;

sub ids_via {
    my ($i, $q) = @_;
    my $d = json_of(req(GET => "/api/items?$q", auth => 'alice', ua => $ua[$i])) // {};
    return [ map { $_->{id} } @{ $d->{items} // [] } ];
}

my $id;
section 'save, then list elsewhere' => sub {
    # read the (empty) list everywhere first, so a cached listing would exist
    is_deeply(ids_via($_, "tag=$tag&state=all"), [], "connection $_: empty list") for 0 .. 3;
    my $res = req(POST => '/api/items', auth => 'alice', ua => $ua[0],
                  json => { url => "https://example.com/$u/1", tags => [$tag] });
    status_is($res, 202, 'save through connection 0');
    $id = (json_of($res) // {})->{item}{id} // 0;
    is_deeply(ids_via($_, "tag=$tag&state=all"), [$id], "connection $_ lists the new item") for 1 .. 3;
};

section 'patch, then read elsewhere' => sub {
    is_deeply(ids_via($_, "tag=$tag&state=all&favorite=true"), [], "connection $_: no favorite yet")
        for 0 .. 3;
    status_is(req(PATCH => "/api/items/$id", auth => 'alice', ua => $ua[1], json => { favorite => $T }),
              200, 'favorite through connection 1');
    for my $i (0, 2, 3) {
        is_deeply(ids_via($i, "tag=$tag&state=all&favorite=true"), [$id], "connection $i: favorite listed");
        my $it = json_of(req(GET => "/api/items/$id", auth => 'alice', ua => $ua[$i])) // {};
        is_bool_val($it->{favorite}, 1, "connection $i: GET item favorite");
    }
};

section 'ETag after a change elsewhere' => sub {
    my $res = req(GET => "/api/items?tag=$tag&state=all", auth => 'alice', ua => $ua[2]);
    my $etag = $res->header('ETag') // '';
    req(PATCH => "/api/items/$id", auth => 'alice', ua => $ua[3], json => { progress => 0.75 });
    for my $i (0, 1, 2) {
        $res = req(GET => "/api/items?tag=$tag&state=all", auth => 'alice', ua => $ua[$i],
                   headers => { 'If-None-Match' => $etag });
        status_is($res, 200, "connection $i: the old ETag no longer matches");
        my $d = json_of($res) // {};
        is(($d->{items}[0] // {})->{progress}, 0.75, "connection $i: the new progress");
    }
};

section 'tags elsewhere' => sub {
    my $tags = sub { [ map { $_->{name} } grep { ($_->{name} // '') =~ /^\Q$u\E/ }
                       @{ (json_of(req(GET => '/api/tags', auth => 'alice', ua => $ua[$_[0]])) // {})->{tags} // [] } ] };
    is_deeply($tags->($_), [$tag], "connection $_: the tag") for 0 .. 3;
    status_is(req(PATCH => '/api/tags/' . esc($tag), auth => 'alice', ua => $ua[0],
                  json => { name => "$u-renamed" }), 200, 'rename through connection 0');
    is_deeply($tags->($_), ["$u-renamed"], "connection $_: the renamed tag") for 1 .. 3;
};

section 'delete elsewhere' => sub {
    status_is(req(DELETE => "/api/items/$id", auth => 'alice', ua => $ua[2]), 204, 'delete through connection 2');
    for my $i (0, 1, 3) {
        status_is(req(GET => "/api/items/$id", auth => 'alice', ua => $ua[$i]), 404, "connection $i: item gone");
        is_deeply(ids_via($i, "tag=$u-renamed&state=all"), [], "connection $i: not listed");
    }
};

section 'credentials elsewhere' => sub {
    my $res = req(POST => '/api/tokens', auth => 'alice', ua => $ua[0], json => { name => "$u-tok" });
    my $d = json_of($res) // {};
    my $tok = { token => $d->{token} // 'x' };
    status_is(req(GET => '/api/session', auth => $tok, ua => $ua[$_]), 200, "connection $_: new token works")
        for 1 .. 3;
    status_is(req(DELETE => '/api/tokens/' . ($d->{id} // 0), auth => 'alice', ua => $ua[0]), 204,
              'revoke through connection 0');
    status_is(req(GET => '/api/session', auth => $tok, ua => $ua[$_]), 401,
              "connection $_: the revoked token is refused at once") for 1 .. 3;

    my $s = login('alice', 'alicepw');
    my $c = { cookie => $s->{cookie}, csrf => $s->{csrf} };
    status_is(req(GET => '/api/session', auth => $c, ua => $ua[$_]), 200, "connection $_: session works")
        for 1 .. 3;
    status_is(req(DELETE => '/api/session', auth => $c, ua => $ua[0]), 204, 'log out through connection 0');
    status_is(req(GET => '/api/session', auth => $c, ua => $ua[$_]), 401,
              "connection $_: the ended session is refused at once") for 1 .. 3;
};

done_testing;
