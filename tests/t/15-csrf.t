# CSRF protection of cookie-authenticated writes (docs/api.md "Authentication"):
# X-CSRF-Token from the login, or an Origin equal to the server's own origin or listed in
# PokettoAllowedOrigins (https://app.example in the test config). Bearer needs neither.
use strict;
use warnings;
use Apache::Test ();
use Test::More;
use PokettoTest;

my $s = login('alice', 'alicepw');
is($s->{res}->code, 200, 'login alice');
my $cookie = { cookie => $s->{cookie} };
my $with_token = { cookie => $s->{cookie}, csrf => $s->{csrf} };
my $u = uniq('csrf');
my $n = 0;
sub url { 'https://example.com/csrf/' . $u . '/' . ++$n }

section 'POST without token or Origin' => sub {
    my $before = snapshot();
    problem_ok(req(POST => '/api/items', auth => $cookie, json => { url => url() }), 403,
               'cookie POST without X-CSRF-Token and without Origin');
    unchanged_ok($before, 'after the refused POST');

    problem_ok(req(POST => '/api/items', auth => { cookie => $s->{cookie}, csrf => 'wrong' . $s->{csrf} },
                   json => { url => url() }), 403, 'cookie POST with a wrong X-CSRF-Token');
    problem_ok(req(POST => '/api/items', auth => { cookie => $s->{cookie}, csrf => '' },
                   json => { url => url() }), 403, 'cookie POST with an empty X-CSRF-Token');
    unchanged_ok($before, 'after the wrong tokens');

    for my $origin ('https://evil.example', 'null', 'https://app.example.evil.example',
                    'http://app.example', 'https://app.example:8443') {
        problem_ok(req(POST => '/api/items', auth => $cookie, json => { url => url() },
                       headers => { Origin => $origin }), 403, "cookie POST with Origin $origin");
    }
    unchanged_ok($before, 'after the foreign origins');

    # a token of another session does not count
    my $bob = login('bob', 'bobpw');
    problem_ok(req(POST => '/api/items', auth => { cookie => $s->{cookie}, csrf => $bob->{csrf} },
                   json => { url => url() }), 403, "cookie POST with another session's token");
    unchanged_ok($before, "after another session's token");
};

section 'POST accepted' => sub {
    my $res = req(POST => '/api/items', auth => $with_token, json => { url => url() });
    status_is($res, 202, 'cookie POST with X-CSRF-Token');

    $res = req(POST => '/api/items', auth => $cookie, json => { url => url() },
               headers => { Origin => 'https://app.example' });
    status_is($res, 202, 'cookie POST with Origin https://app.example (PokettoAllowedOrigins)');

    $res = req(POST => '/api/items', auth => $cookie, json => { url => url() },
               headers => { Origin => base() });
    status_is($res, 202, 'cookie POST with the server\'s own Origin ' . base());

    # bearer: no token and a foreign Origin are fine
    $res = req(POST => '/api/items', auth => 'alice', json => { url => url() },
               headers => { Origin => 'https://evil.example' });
    status_is($res, 202, 'bearer POST with a foreign Origin and no X-CSRF-Token');

    # safe methods need nothing
    status_is(req(GET => '/api/items', auth => $cookie), 200, 'cookie GET without X-CSRF-Token');
    status_is(req(GET => '/api/items', auth => $cookie, headers => { Origin => 'https://evil.example' }),
              200, 'cookie GET with a foreign Origin');
};

section 'PATCH and DELETE' => sub {
    my ($res, $item) = save_item('alice', url());
    status_is($res, 202, 'save an item to patch');
    my $id = $item ? $item->{id} : 0;
    my $before = snapshot();

    problem_ok(req(PATCH => "/api/items/$id", auth => $cookie, json => { favorite => JSON::PP::true }),
               403, 'cookie PATCH without X-CSRF-Token');
    problem_ok(req(PATCH => "/api/items/$id", auth => $cookie, json => { favorite => JSON::PP::true },
                   headers => { Origin => 'https://evil.example' }), 403,
               'cookie PATCH with a foreign Origin');
    problem_ok(req(DELETE => "/api/items/$id", auth => $cookie), 403,
               'cookie DELETE without X-CSRF-Token');
    problem_ok(req(POST => '/api/tokens', auth => $cookie, json => { name => 'csrf' }), 403,
               'cookie POST /api/tokens without X-CSRF-Token');
    problem_ok(req(PATCH => '/api/tags/nosuchtag', auth => $cookie, json => { name => 'x' }), 403,
               'cookie PATCH /api/tags without X-CSRF-Token');
    unchanged_ok($before, 'after the refused PATCH/DELETE');
    my $tokens = json_of(req(GET => '/api/tokens', auth => 'alice')) // {};
    ok(!grep({ ($_->{name} // '') eq 'csrf' } @{ $tokens->{tokens} // [] }),
       'no token was created by the refused POST /api/tokens');

    my $d = json_ok(req(PATCH => "/api/items/$id", auth => $with_token,
                        json => { favorite => JSON::PP::true }), 200, 'cookie PATCH with X-CSRF-Token') // {};
    is_bool_val($d->{favorite}, 1, 'PATCH with token: favorite');
    status_is(req(DELETE => "/api/items/$id", auth => $cookie,
                  headers => { Origin => 'https://app.example' }), 204,
              'cookie DELETE with Origin https://app.example');
    status_is(req(GET => "/api/items/$id", auth => 'alice'), 404, 'the item is gone');
};

done_testing;
