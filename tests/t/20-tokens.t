# API tokens: POST/GET /api/tokens, DELETE /api/tokens/{id}.
use strict;
use warnings;
use Apache::Test ();
use Test::More;
use PokettoTest;

my $name = uniq('laptop');
my ($id, $secret);

sub tokens_of {
    my $who = shift;
    my $d = json_of(req(GET => '/api/tokens', auth => $who));
    return ref $d eq 'HASH' && ref $d->{tokens} eq 'ARRAY' ? $d->{tokens} : [];
}

section 'create' => sub {
    my $res = req(POST => '/api/tokens', auth => 'alice', json => { name => $name });
    my $d = json_ok($res, 201, 'create token') // {};
    my $loc = location_id($res, 'tokens');
    ok(defined $loc, 'create token: Location /api/tokens/{id}')
        or diag('  Location: ' . ($res->header('Location') // '-'));
    is(json_type($d->{id}), 'number', 'create token: id is a number');
    is($d->{id}, $loc, 'create token: id matches the Location');
    is($d->{name}, $name, 'create token: name');
    like($d->{token} // '', qr/^pkt_[A-Za-z0-9_\-]{16,}$/, 'create token: token value pkt_...');
    iso_ok($d->{created}, 'create token: created');
    ok(exists $d->{last_used} && !defined $d->{last_used}, 'create token: last_used is null');
    ($id, $secret) = ($d->{id}, $d->{token});
};

section 'use and list' => sub {
    my $d = json_ok(req(GET => '/api/session', auth => { token => $secret }), 200,
                    'the new token authenticates') // {};
    is($d->{user}{login}, 'alice', 'the new token is alice\'s');

    my $res = req(GET => '/api/tokens', auth => 'alice');
    my $l = json_ok($res, 200, 'list tokens') // {};
    my @mine = grep { ($_->{id} // -1) == ($id // -2) } @{ $l->{tokens} // [] };
    is(scalar @mine, 1, 'list tokens: the new token is listed once');
    my $t = $mine[0] // {};
    is($t->{name}, $name, 'list tokens: name');
    iso_ok($t->{created}, 'list tokens: created');
    iso_ok($t->{last_used}, 'list tokens: last_used is set after use');
    ok(!grep({ exists $_->{token} } @{ $l->{tokens} // [] }), 'list tokens: no token values');
    unlike($res->content // '', qr/\Q$secret\E/, 'list tokens: the secret is not in the listing');
    ok(grep({ ($_->{name} // '') eq 'tests' } @{ $l->{tokens} // [] }),
       'list tokens: the admin CLI\'s token "tests" is listed');
    ok(!grep({ ($_->{id} // -1) == ($id // -2) } @{ tokens_of('bob') }),
       "bob's list does not show alice's token");
};

section 'other users and unknown ids' => sub {
    problem_ok(req(DELETE => "/api/tokens/$id", auth => 'bob'), 404, "bob deletes alice's token");
    is(req(GET => '/api/session', auth => { token => $secret })->code, 200,
       "alice's token still works after bob's attempt");
    problem_ok(req(DELETE => '/api/tokens/999999999', auth => 'alice'), 404, 'delete an unknown token');
    problem_ok(req(GET => '/api/session', auth => { token => 'pkt_' . ('A' x 32) }), 401,
               'an unknown pkt_ token');
};

section 'revoke' => sub {
    status_is(req(DELETE => "/api/tokens/$id", auth => 'alice'), 204, 'revoke the token');
    my $res = req(GET => '/api/session', auth => { token => $secret });
    problem_ok($res, 401, 'the revoked token');
    like($res->header('WWW-Authenticate') // '', qr/^Bearer\b.*realm="poketto"/i,
         'the revoked token: WWW-Authenticate Bearer realm="poketto"');
    problem_ok(req(GET => '/api/items', auth => { token => $secret }), 401,
               'the revoked token on /api/items');
    ok(!grep({ ($_->{id} // -1) == ($id // -2) } @{ tokens_of('alice') }),
       'the revoked token is no longer listed');
    problem_ok(req(DELETE => "/api/tokens/$id", auth => 'alice'), 404, 'revoke it again');
    is(req(GET => '/api/session', auth => 'alice')->code, 200, 'the other token still works');
};

section 'token by a session' => sub {
    my $s = login('alice', 'alicepw');
    my $res = req(POST => '/api/tokens', auth => { cookie => $s->{cookie}, csrf => $s->{csrf} },
                  json => { name => "$name-s" });
    my $d = json_ok($res, 201, 'create a token with a session cookie') // {};
    status_is(req(GET => '/api/items', auth => { token => $d->{token} // 'x' }), 200,
              'the token made by a session works');
    status_is(req(DELETE => '/api/tokens/' . ($d->{id} // 0), auth => 'alice'), 204,
              'revoke it');
};

section 'bad names' => sub {
    my $before = join ',', sort map { $_->{id} } @{ tokens_of('alice') };
    problem_ok(req(POST => '/api/tokens', auth => 'alice', json => {}), 422,
               'token without name', field => 'name');
    problem_ok(req(POST => '/api/tokens', auth => 'alice', json => { name => '' }), 422,
               'token with an empty name', field => 'name');
    problem_ok(req(POST => '/api/tokens', auth => 'alice', json => { name => 'n' x 101 }), 422,
               'token with a 101-character name', field => 'name');
    problem_ok(req(POST => '/api/tokens', auth => 'alice', json => { name => 5 }), 422,
               'token with a numeric name', field => 'name');
    problem_ok(req(POST => '/api/tokens', auth => 'alice', body => '{"name":', ct => 'application/json'),
               400, 'token with malformed JSON');
    problem_ok(req(POST => '/api/tokens', auth => 'alice', body => 'name=x',
                   ct => 'application/x-www-form-urlencoded'), 415, 'token with a form body');
    is(join(',', sort map { $_->{id} } @{ tokens_of('alice') }), $before,
       'no token was created by the bad requests');

    # 100 characters (multi-byte ones count as characters) is allowed
    my $res = req(POST => '/api/tokens', auth => 'alice', json => { name => "\x{e9}" x 100 });
    my $d = json_ok($res, 201, 'token with a 100-character name');
    is($d->{name}, "\x{e9}" x 100, 'the 100-character name is kept');
    req(DELETE => '/api/tokens/' . ($d->{id} // 0), auth => 'alice');
};

done_testing;
