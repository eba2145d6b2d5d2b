# Sessions: POST/GET/DELETE /api/session (docs/api.md "Authentication").
use strict;
use warnings;
use Apache::Test ();
use Test::More;
use PokettoTest;

# cookie attributes of the poketto_session Set-Cookie, lower-cased names
sub session_cookie {
    my $res = shift;
    for my $sc ($res->header('Set-Cookie')) {
        my ($pair, @attrs) = split /\s*;\s*/, $sc;
        next unless $pair =~ /^poketto_session=(.*)$/;
        my %a = (value => $1);
        for (@attrs) {
            my ($k, $v) = split /=/, $_, 2;
            $a{ lc $k } = $v // 1;
        }
        return \%a;
    }
    return undef;
}

my ($cookie, $csrf, $alice_id);

section 'login' => sub {
    my $res = req(POST => '/api/session', json => { login => 'alice', password => 'alicepw' });
    my $d = json_ok($res, 200, 'login alice') // {};
    is($d->{user}{login}, 'alice', 'login: user.login');
    is(json_type($d->{user}{id}), 'number', 'login: user.id is a number');
    $alice_id = $d->{user}{id};
    ok(defined $d->{csrf_token} && !ref $d->{csrf_token} && length $d->{csrf_token} >= 16,
       'login: csrf_token is a string of some length');
    $csrf = $d->{csrf_token};
    iso_ok($d->{expires}, 'login: expires');
    my ($y, $mo, $da) = ($d->{expires} // '') =~ /^(\d{4})-(\d\d)-(\d\d)/;
    require Time::Local;
    my $exp = $y ? Time::Local::timegm(0, 0, 0, $da, $mo - 1, $y) : 0;
    ok($exp > time, 'login: expires is in the future');

    my $c = session_cookie($res) // {};
    ok(length($c->{value} // '') >= 16, 'login: Set-Cookie poketto_session with a value');
    $cookie = $c->{value};
    is($c->{path}, '/', 'login: cookie Path=/');
    ok($c->{httponly}, 'login: cookie HttpOnly');
    is(lc($c->{samesite} // ''), 'lax', 'login: cookie SameSite=Lax');
    ok(!$c->{secure}, 'login: no Secure attribute over plain HTTP');
    my $cv = $cookie // ('x' x 40);
    unlike($res->content // '', qr/\Q$cv\E/, 'login: the session id is not in the body');
};

section 'GET /api/session' => sub {
    my $d = json_ok(req(GET => '/api/session', auth => { cookie => $cookie }), 200,
                    'GET session with cookie') // {};
    is($d->{user}{login}, 'alice', 'GET session (cookie): user.login');
    is($d->{user}{id}, $alice_id, 'GET session (cookie): same user id');
    is($d->{csrf_token}, $csrf, 'GET session (cookie): same csrf_token as the login');
    iso_ok($d->{expires}, 'GET session (cookie): expires');

    $d = json_ok(req(GET => '/api/session', auth => 'alice'), 200, 'GET session with token') // {};
    is($d->{user}{login}, 'alice', 'GET session (token): user.login');
    is($d->{user}{id}, $alice_id, 'GET session (token): same user id');

    my $res = req(GET => '/api/session');
    problem_ok($res, 401, 'GET session without credentials');
    like($res->header('WWW-Authenticate') // '', qr/^Bearer\b.*realm="poketto"/i,
         'GET session without credentials: WWW-Authenticate Bearer realm="poketto"');

    problem_ok(req(GET => '/api/session', auth => { cookie => 'not-a-session-' . ('x' x 20) }),
               401, 'GET session with an unknown cookie');
};

section 'wrong credentials' => sub {
    my $res = req(POST => '/api/session', json => { login => 'alice', password => 'wrong' });
    my $p1 = problem_ok($res, 401, 'login with a wrong password');
    like($res->header('WWW-Authenticate') // '', qr/^Bearer\b.*realm="poketto"/i,
         'wrong password: WWW-Authenticate Bearer realm="poketto"');
    ok(!session_cookie($res), 'wrong password: no session cookie');

    $res = req(POST => '/api/session', json => { login => 'nosuchuser', password => 'alicepw' });
    my $p2 = problem_ok($res, 401, 'login with an unknown login');
    is($p2->{detail}, $p1->{detail}, 'unknown login and wrong password give the same detail');
    ok(!session_cookie($res), 'unknown login: no session cookie');

    problem_ok(req(POST => '/api/session', json => { login => 'alice' }), 422,
               'login without password', field => 'password');
    problem_ok(req(POST => '/api/session', json => { password => 'alicepw' }), 422,
               'login without login', field => 'login');
    problem_ok(req(POST => '/api/session', json => { login => 'alice', password => 42 }), 422,
               'login with a non-string password', field => 'password');
};

section 'two sessions, bob' => sub {
    my $s2 = login('alice', 'alicepw');
    is($s2->{res}->code, 200, 'second login of alice');
    ok(defined $s2->{cookie} && defined $cookie && $s2->{cookie} ne $cookie,
       'second login gets a different session');
    my $b = login('bob', 'bobpw');
    is($b->{res}->code, 200, 'login bob');
    my $d = json_of(req(GET => '/api/session', auth => { cookie => $b->{cookie} })) // {};
    is($d->{user}{login}, 'bob', "bob's cookie is bob's session");
    isnt($d->{user}{id}, $alice_id, 'bob has another user id');

    # logging out one session leaves the other alone
    my $res = req(DELETE => '/api/session', auth => { cookie => $s2->{cookie}, csrf => $s2->{csrf} });
    status_is($res, 204, 'log out the second session');
    is(req(GET => '/api/session', auth => { cookie => $cookie })->code, 200,
       'first session still valid after the second logged out');
};

section 'logout' => sub {
    # DELETE is state-changing: a cookie without X-CSRF-Token (and no Origin) is refused
    problem_ok(req(DELETE => '/api/session', auth => { cookie => $cookie }), 403,
               'logout with cookie but without X-CSRF-Token');
    is(req(GET => '/api/session', auth => { cookie => $cookie })->code, 200,
       'session still valid after the refused logout');

    my $res = req(DELETE => '/api/session', auth => { cookie => $cookie, csrf => $csrf });
    status_is($res, 204, 'logout');
    is($res->content // '', '', 'logout: empty body');
    my $c = session_cookie($res);
    ok($c && ($c->{value} eq '' || (defined $c->{'max-age'} && $c->{'max-age'} <= 0)
              || (defined $c->{expires} && $c->{expires} =~ /1970|19[0-9]\d/)),
       'logout: Set-Cookie clears poketto_session')
        or diag('  Set-Cookie: ' . join(' | ', $res->header('Set-Cookie')));

    problem_ok(req(GET => '/api/session', auth => { cookie => $cookie }), 401,
               'GET session with the logged-out cookie');
    problem_ok(req(GET => '/api/items', auth => { cookie => $cookie, csrf => $csrf }), 401,
               'GET items with the logged-out cookie');
    problem_ok(req(POST => '/api/items', auth => { cookie => $cookie, csrf => $csrf },
                   json => { url => 'https://example.com/session/after-logout' }), 401,
               'save with the logged-out cookie');
};

done_testing;
