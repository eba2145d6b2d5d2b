# PokettoAuth httpd: /basic/api is behind Apache Basic auth (carol:carolpw in the
# htpasswd file); the module takes r->user and creates the account on first sight.
use strict;
use warnings;
use Apache::Test ();
use Test::More;
use PokettoTest;

my $carol = { basic => [qw(carol carolpw)] };
my $u = uniq('basic');
my ($carol_id, $item_id);

section 'Apache refuses without credentials' => sub {
    my $res = req(GET => '/basic/api/items');
    status_is($res, 401, '/basic/api/items without credentials');
    like($res->header('WWW-Authenticate') // '', qr/^Basic\b.*realm="poketto"/i,
         'without credentials: Apache asks for Basic realm="poketto"');
    status_is(req(GET => '/basic/api/items', auth => { basic => [qw(carol wrong)] }), 401,
              '/basic/api/items with a wrong password');
    status_is(req(GET => '/basic/api/items', auth => 'alice'), 401,
              '/basic/api/items with only a bearer token (Apache wants Basic)');
};

section 'carol' => sub {
    my $d = json_ok(req(GET => '/basic/api/session', auth => $carol), 200,
                    'carol: GET /basic/api/session') // {};
    is($d->{user}{login}, 'carol', 'carol: the account is created with her login');
    $carol_id = $d->{user}{id};
    is(json_type($carol_id), 'number', 'carol: user id');
    my $alice = json_of(req(GET => '/api/session', auth => 'alice')) // {};
    isnt($carol_id, $alice->{user}{id}, 'carol is not alice');

    $d = json_ok(req(GET => '/basic/api/items', auth => $carol), 200, 'carol: list items') // {};
    is_deeply($d->{items}, [], 'carol: a new account has no items');

    # Basic auth is not cookie auth: no X-CSRF-Token needed (docs/api.md)
    my $res = req(POST => '/basic/api/items', auth => $carol,
                  json => { url => "https://example.com/$u/carol", tags => ['mine'] });
    $d = json_ok($res, 202, 'carol: save a URL') // {};
    $item_id = $d->{item}{id} // 0;
    like($res->header('Location') // '', qr{/api/tasks/\d+$}, 'carol: Location of the task');

    $d = json_ok(req(GET => "/basic/api/items/$item_id", auth => $carol), 200,
                 "carol: GET her item") // {};
    is($d->{url}, "https://example.com/$u/carol", 'carol: the item');
    $d = json_of(req(GET => '/basic/api/session', auth => $carol)) // {};
    is($d->{user}{id}, $carol_id, 'carol: the same account on the next request');
    $d = json_of(req(GET => '/basic/api/items', auth => $carol)) // {};
    is_deeply([ map { $_->{id} } @{ $d->{items} // [] } ], [$item_id], 'carol: her list');
};

section 'isolation' => sub {
    problem_ok(req(GET => "/api/items/$item_id", auth => 'alice'), 404, "alice reads carol's item");
    problem_ok(req(DELETE => "/api/items/$item_id", auth => 'bob'), 404, "bob deletes carol's item");
    status_is(req(GET => "/basic/api/items/$item_id", auth => $carol), 200, "carol's item is still there");
    problem_ok(req(GET => '/basic/api/items/999999999', auth => $carol), 404,
               'carol: unknown item is problem+json too');
};

done_testing;
