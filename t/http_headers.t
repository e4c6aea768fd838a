#!/usr/bin/perl
# add_header and expires as an nginx user sees them: the statuses that get
# the fields (and `always` for the others), inheritance (a level with an
# add_header of its own inherits none), values with variables, empty
# values, ETag and Last-Modified replaced or removed, a value with a line
# break (from $uri) refused, and every form of expires with its exact
# Cache-Control and an Expires checked against the response's Date. Each
# answer is compared with Debian's nginx's when it is installed.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX qw(strftime);
use Test::More;
use Time::Local qw(timegm);
use WmTest;
use WmHttpClient;
use WmNginx;

# A zone without tzdata, so that `expires @time` shows the local time.
$ENV{TZ} = 'JST-9';
POSIX::tzset();

my $t = WmTest->new(timeout => 120);
my $P = $t->prefix;
my $D = qr{\d{4}/\d\d/\d\d \d\d:\d\d:\d\d};
my ($wport, $nport) = ($t->port, $t->port);

my $MTIME  = 1700000000;          # Tue, 14 Nov 2023 22:13:20 GMT
my $FUTURE = time + 100000;       # a file modified in the future
for my $f (qw(html/hdr/x.txt html/hdr/in/x.txt html/hdr/none/x.txt
    html/own/x.txt html/inherit/x.txt html/ex/x.txt html/ex/off/x.txt
    html/ex/in/x.txt html/f.txt))
{
    $t->write_file($f, "x\n");
    utime $MTIME, $MTIME, "$P/$f";
}
$t->write_file('html/future.txt', "future\n");
utime $FUTURE, $FUTURE, "$P/html/future.txt";

my @codes = (200, 201, 204, 206, 301, 302, 303, 304, 307, 308, 400, 403,
    404, 410, 500, 503);
my $status_locations = join '', map {
    my $ret = /^30[12378]$/ ? "$_ /to" : $_;
    "        location = /s/$_ { add_header X-S s; add_header X-Always a always;"
      . " expires 1h; return $ret; }\n"
} @codes;

sub http_body {
    my $port = shift;
    return <<"EOF";
    types { text/html html; text/plain txt; }
    default_type application/octet-stream;
    add_header X-Http http;
    server {
        listen 127.0.0.1:$port;
        server_name localhost;
        root $P/html;
        add_header X-Srv srv;
        add_header X-Srv2 "\$server_name";

        location /inherit/ { }
        location /own/ { add_header X-Own own; }
        location /hdr/ {
            add_header X-A a;
            add_header X-Uri "\$uri";
            add_header X-Arg \$arg_x;
            add_header X-Empty "";
            location /hdr/in/ { add_header X-C c always; }
            location /hdr/none/ { }
        }
$status_locations
        location /inj/ { add_header X-Uri "u=\$uri" always; return 200 "ok\\n"; }
        location /ex/ {
            expires 1h;
            location /ex/off/ { expires off; }
            location /ex/in/ { }
        }
        location = /e/compound { expires 1d2h30m; return 200; }
        location = /e/neg { expires -1; return 200; }
        location = /e/zero { expires 0; return 200; }
        location = /e/epoch { expires epoch; return 200; }
        location = /e/max { expires max; return 200; }
        location = /e/modret { expires modified 1h; return 200; }
        location = /e/daily { expires \@15h30m; return 200; }
        location = /e/404 { expires 1h; return 404; }
        location = /e/cc { expires 1h; add_header Cache-Control private; return 200; }
        location = /f.txt { expires modified 1h; }
        location = /future.txt { expires modified 1h; }
        location /etag/ { alias $P/html/; add_header ETag ""; add_header Last-Modified ""; }
        location /etag2/ { alias $P/html/; add_header ETag '"x"'; add_header Last-Modified "foo"; }
    }
EOF
}

my ($ng, $nginx_up, $wm_up) =
  WmNginx::start_pair($t, \&http_body, $wport, $nport);
$wm_up or do { $t->done; exit };

my %MON;
@MON{qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec)} = (0 .. 11);
sub epoch_of {
    my ($d, $m, $y, $H, $M, $S) = ($_[0] // '')
      =~ /^\w{3}, (\d\d) (\w{3}) (\d{4}) (\d\d):(\d\d):(\d\d) GMT$/ or return;
    return timegm($S, $M, $H, $d, $MON{$m}, $y);
}
sub http_date { strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime $_[0]) }

sub get {
    my ($uri, @h) = @_;
    return WmNginx::fetch($wport, "GET $uri HTTP/1.1", @h);
}

# The fields this test is about, as "name: value" lines in order of
# appearance; Expires relative to Date when asked (`+N`).
sub fields {
    my ($r, $relative) = @_;
    my $date = epoch_of($r->{h}{date});
    my @out;
    for (@{ $r->{headers} }) {
        my ($k, $v) = ($_->[0], $_->[1]);
        next unless $k =~ /^(?:x-|expires$|cache-control$|etag$|last-modified$)/i;
        if (lc $k eq 'expires' && $relative && defined $date) {
            my $e = epoch_of($v);
            $v = defined $e ? sprintf('Date%+d', $e - $date) : "bad $v";
        }
        push @out, lc($k) . ": $v";
    }
    return [ sort @out ];
}

# Sends one request to wmproxy and checks its status and fields; compares
# with nginx (the same fields, whatever their order) when it runs.
sub check {
    my ($name, $uri, $status, $want, %o) = @_;
    my $r = get($uri, @{ $o{h} // [] });
    if ($r->{error}) {
        fail("$name: $r->{error}");
        return;
    }
    is($r->{status}, $status, "$name: $status");
    # The clock may tick between Expires (a header filter) and Date (the
    # writer, just after): one second less is the same answer.
    my @got = map {
        my $f = $_;
        if ($f =~ /^expires: Date([+-]\d+)$/) {
            my $n = $1;
            $f = sprintf('expires: Date%+d', $n + 1)
              if grep { $_ eq sprintf('expires: Date%+d', $n + 1) } @$want;
        }
        $f
    } @{ fields($r, $o{relative}) };
    is_deeply([ sort @got ], [ sort @$want ], "$name: fields")
      or diag(explain(\@got));
    return $r unless $nginx_up && !$o{no_nginx};
    my $n = WmNginx::fetch($nport, "GET $uri HTTP/1.1", @{ $o{h} // [] });
    is_deeply([ sort @got ], fields($n, $o{relative}), "$name: as nginx") or diag(explain(fields($n, $o{relative})));
    return $r;
}

# ---- add_header -------------------------------------------------------------

check('a level with its own add_header', '/hdr/x.txt?x=7', 200,
    [ 'x-a: a', 'x-uri: /hdr/x.txt', 'x-arg: 7', 'etag: "6553f100-2"',
        'last-modified: Tue, 14 Nov 2023 22:13:20 GMT' ]);
check('a variable that is empty adds nothing', '/hdr/x.txt', 200,
    [ 'x-a: a', 'x-uri: /hdr/x.txt', 'etag: "6553f100-2"',
        'last-modified: Tue, 14 Nov 2023 22:13:20 GMT' ]);
check('a nested level with its own: only its own', '/hdr/in/x.txt', 200,
    [ 'x-c: c', 'etag: "6553f100-2"',
        'last-modified: Tue, 14 Nov 2023 22:13:20 GMT' ]);
check('a nested level without: inherits', '/hdr/none/x.txt', 200,
    [ 'x-a: a', 'x-uri: /hdr/none/x.txt', 'etag: "6553f100-2"',
        'last-modified: Tue, 14 Nov 2023 22:13:20 GMT' ]);
check('a location without: the server\'s, not http\'s', '/inherit/x.txt',
    200, [ 'x-srv: srv', 'x-srv2: localhost', 'etag: "6553f100-2"',
        'last-modified: Tue, 14 Nov 2023 22:13:20 GMT' ]);
check('a location with its own: not the server\'s', '/own/x.txt', 200,
    [ 'x-own: own', 'etag: "6553f100-2"',
        'last-modified: Tue, 14 Nov 2023 22:13:20 GMT' ]);
check('a 404 gets only the always fields', '/hdr/in/nope', 404,
    [ 'x-c: c' ]);
check('a 404 without always fields', '/hdr/nope', 404, []);
check('a 304 gets them', '/hdr/x.txt', 304,
    [ 'x-a: a', 'x-uri: /hdr/x.txt', 'etag: "6553f100-2"',
        'last-modified: Tue, 14 Nov 2023 22:13:20 GMT' ],
    h => [ 'If-None-Match: "6553f100-2"' ]);

for my $c (@codes) {
    my $ok = grep { $_ == $c } 200, 201, 204, 206, 301, 302, 303, 304, 307,
      308;
    check("status $c", "/s/$c", $c,
        [ 'x-always: a', $ok ? ('x-s: s', 'expires: Date+3600',
                'cache-control: max-age=3600') : () ],
        relative => 1);
}

check('ETag and Last-Modified removed', '/etag/f.txt', 200, []);
check('ETag and Last-Modified replaced', '/etag2/f.txt', 200,
    [ 'etag: "x"', 'last-modified: foo' ]);

my $off = $t->log_size;
my $r = check('a $uri with a line break is not sent', '/inj/a%0D%0AX-Injected:%20yes',
    200, [], no_nginx => 1);
is($r->{body}, "ok\n", 'a $uri with a line break: the body still comes');
ok($t->wait_log(qr/^$D \[error\] \d+#\d+: (?:\*\d+ )?add_header "X-Uri" (?x)
        has\ a\ line\ break\ in\ its\ value,\ not\ sent,\ client:
        \ 127\.0\.0\.1,\ server:\ localhost/m, from => $off),
    'a $uri with a line break: logged') or diag($t->log_since($off));
check('a $uri without line break is sent', '/inj/a%20b', 200,
    [ 'x-uri: u=/inj/a b' ]);

# ---- expires ----------------------------------------------------------------

my $LM = 'last-modified: Tue, 14 Nov 2023 22:13:20 GMT';
my $ET = 'etag: "6553f100-2"';
# Locations without an add_header of their own get the server's.
my @SRV = ('x-srv: srv', 'x-srv2: localhost');
check('expires 1h', '/ex/x.txt', 200,
    [ 'expires: Date+3600', 'cache-control: max-age=3600', $LM, $ET, @SRV ],
    relative => 1);
check('expires inherited', '/ex/in/x.txt', 200,
    [ 'expires: Date+3600', 'cache-control: max-age=3600', $LM, $ET, @SRV ],
    relative => 1);
check('expires off below expires 1h', '/ex/off/x.txt', 200, [ $LM, $ET, @SRV ]);
check('expires on a 304', '/ex/x.txt', 304,
    [ 'expires: Date+3600', 'cache-control: max-age=3600', $LM, $ET, @SRV ],
    relative => 1, h => [ 'If-None-Match: "6553f100-2"' ]);
check('expires not on a 404', '/e/404', 404, []);  # nor X-Srv: no always
check('expires 1d2h30m', '/e/compound', 200,
    [ 'expires: Date+95400', 'cache-control: max-age=95400', @SRV ], relative => 1);
check('expires -1', '/e/neg', 200,
    [ 'expires: Date-1', 'cache-control: no-cache', @SRV ], relative => 1);
check('expires 0', '/e/zero', 200,
    [ 'expires: Date+0', 'cache-control: max-age=0', @SRV ], relative => 1);
check('expires epoch', '/e/epoch', 200,
    [ 'expires: Thu, 01 Jan 1970 00:00:01 GMT', 'cache-control: no-cache', @SRV ]);
check('expires max', '/e/max', 200,
    [ 'expires: Thu, 31 Dec 2037 23:55:55 GMT',
        'cache-control: max-age=315360000', @SRV ]);
check('expires modified 1h, modified long ago', '/f.txt', 200,
    [ 'expires: ' . http_date($MTIME + 3600), 'cache-control: no-cache',
        $LM, $ET, @SRV ]);
check('expires modified 1h, no Last-Modified: from now', '/e/modret', 200,
    [ 'expires: Date+3600', 'cache-control: max-age=3600', @SRV ],
    relative => 1);
check('expires with add_header Cache-Control', '/e/cc', 200,
    [ 'expires: Date+3600', 'cache-control: max-age=3600',
        'cache-control: private' ], relative => 1);

# The ones whose max-age moves with the clock: Expires exact, max-age
# equal to Expires minus Date (give or take the second between them).
$r = get('/future.txt');
is($r->{h}{expires}, http_date($FUTURE + 3600),
    'expires modified 1h, modified in the future: Expires');
my ($age) = ($r->{h}{'cache-control'} // '') =~ /^max-age=(\d+)$/;
my $left = epoch_of($r->{h}{expires}) - epoch_of($r->{h}{date});
ok(defined $age && ($age == $left || $age == $left - 1),
    "expires modified: max-age $age is Expires - Date ($left)")
  or diag($r->{h}{'cache-control'});

$r = get('/e/daily');
my $exp = epoch_of($r->{h}{expires});
is(defined $exp ? strftime('%H:%M:%S', localtime $exp) : '', '15:30:00',
    'expires @15h30m: 15:30 local time (JST-9)');
($age) = ($r->{h}{'cache-control'} // '') =~ /^max-age=(\d+)$/;
$left = $exp - epoch_of($r->{h}{date});
ok(defined $age && $age > 0 && $age <= 86400
      && ($age == $left || $age == $left - 1),
    "expires \@15h30m: max-age $age is Expires - Date ($left), within a day");
if ($nginx_up) {
    is(WmNginx::fetch($nport, 'GET /e/daily HTTP/1.1')->{h}{expires},
        $r->{h}{expires}, 'expires @15h30m: as nginx');
}

# ---- configuration errors ---------------------------------------------------

my @bad = (
    [ 'add_header X-A;', qr/"add_header" directive has invalid number of arguments/ ],
    [ 'add_header X-A a sometimes;', qr/"add_header" directive has invalid parameter "sometimes"/ ],
    [ 'add_header "Bad Name" a;', qr/"add_header" directive has invalid header name "Bad Name"/ ],
    [ 'add_header X-A:B a;', qr/"add_header" directive has invalid header name "X-A:B"/ ],
    [ 'add_header X-A "a\\r\\nX-B: b";', qr/"add_header" directive has a line break in its value/ ],
    [ 'add_header X-A $nosuchvar;', qr/uses unknown "nosuchvar" variable/ ],
    [ 'expires soon;', qr/"expires" directive has invalid value "soon"/ ],
    [ 'expires modified;', qr/"expires" directive has invalid value "modified"/ ],
    [ 'expires modified max;', qr/"expires" directive has invalid value "max"/ ],
    [ 'expires later 1h;', qr/"expires" directive has invalid value "later"/ ],
    [ 'expires @25h;', qr/"expires" directive has invalid value "\@25h"/ ],
    [ 'expires @-1h;', qr/"expires" directive has invalid value "\@-1h"/ ],
    [ 'expires 1h; expires 2h;', qr/"expires" directive is duplicate/ ],
);
for my $b (@bad) {
    my ($text, $re) = @$b;
    $t->conf_rejected(<<"EOF", 5, $re, $text);
events { }
http { server { listen 127.0.0.1:$wport; location / { $text } } }
EOF
}

is(get('/hdr/x.txt')->{status}, 200, 'still serving');
$ng->stop if $ng;
$t->done;
