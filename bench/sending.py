"""Benchmark of the sending engine: speed against Django's own sending, scaling with
connections, and the sender's memory as the number of recipients grows.

    .venv/bin/python bench/sending.py                  # the figures of README, ~5 minutes
    .venv/bin/python bench/sending.py --quick          # smoke run: tiny N, a few seconds
    .venv/bin/python bench/sending.py --ceiling-only --n 2000 --rounds 5   # engine/ceiling
    .venv/bin/python bench/sending.py --ceiling-only --no-pipelining ...  # a sink without it
    DATABASE_URL=postgres://... .venv/bin/python bench/sending.py   # on PostgreSQL

It uses its own database (var/bench.sqlite3 by default, recreated each run; with
DATABASE_URL, that database, which it flushes) and an aiosmtpd sink in a separate process,
so the sink never competes with the sender for the GIL.

The engine and Django's send_messages() are compared in interleaved rounds (engine, Django,
engine, Django...) on the same letter and the same sink, so that a change in the machine's
load hits both alike; each rate is printed as the median of the rounds with their min-max
spread, for a Cyrillic and an ASCII letter, and the load average at the start and the end
says how busy the machine was. The engine is also set against the transport ceiling: the
same letters rendered beforehand and sent with plain smtplib over one connection, without a
database (`--ceiling-only` runs just that). `--quick` only checks that the benchmark still runs
(tests/test_bench_smoke.py does it): its figures measure nothing.
"""

import argparse
import json
import os
import smtplib
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ["DJANGO_SETTINGS_MODULE"] = "mailing_service.settings_test"
# The benchmark sends far more than a user's day, in this process and its children: no quota.
os.environ["DAILY_LETTER_QUOTA"] = str(10**9)
os.environ.setdefault("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'bench.sqlite3'}")


@dataclass(frozen=True)
class Letter:
    """What both senders send: a subject, a body, a sender and the recipients' names."""

    label: str
    subject: str
    body: str
    sender: str
    client_name: str  # formatted with the recipient's number

    def recipient(self, n: int) -> str:
        return f"{self.client_name.format(n=n)} <client{n}@example.com>"


# Every letter is personalised and carries its recipient's own unsubscribe link (placeholders
# of core.services.sending.personalisation; the engine also adds the link's headers and footer).
CYRILLIC = Letter(
    label="Cyrillic",
    subject="{{ first_name }}, весенняя распродажа в нашем магазине",
    body="Здравствуйте, {{ full_name }}!\n\n"
    + "Всю неделю скидки до 50% на всё. Ждём вас.\n\n" * 3
    + "-- \nМагазин\nОтписаться: {{ unsubscribe_url }}\n",
    sender="Магазин <shop@example.com>",
    client_name="Клиент Номер {n}",
)
ASCII = Letter(
    label="ASCII",
    subject="{{ first_name }}, spring sale in our shop",
    body="Hello {{ full_name }}!\n\n"
    + "All week long, up to 50% off everything. See you soon.\n\n" * 3
    + "-- \nThe shop\nUnsubscribe: {{ unsubscribe_url }}\n",
    sender="The shop <shop@example.com>",
    client_name="Client Number {n}",
)

SINK_CODE = """
import sys
sys.path.insert(0, {base!r})
from tests.smtp_servers import SmtpSink
with SmtpSink(delay={delay!r}, pipelining={pipelining!r}) as sink:
    sink._record = lambda message: None  # count nothing, keep nothing: a sink that only answers
    print(sink.port, flush=True)
    sys.stdin.read()
"""


class Sink:
    """An aiosmtpd sink in its own process, answering each message after `delay` seconds;
    it offers PIPELINING unless told not to."""

    def __init__(self, delay: float = 0.0, *, pipelining: bool = True) -> None:
        self.delay = delay
        self.pipelining = pipelining

    def __enter__(self) -> "Sink":
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                SINK_CODE.format(base=str(BASE_DIR), delay=self.delay, pipelining=self.pipelining),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self.process.stdout.readline())
        return self

    def __exit__(self, *exc_info) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


def setup_django(*, fresh: bool) -> None:
    import django

    database_url = os.environ["DATABASE_URL"]
    if fresh and database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite://"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    django.setup()
    from django.core.management import call_command

    if fresh:
        call_command("migrate", verbosity=0)
        if not database_url.startswith("sqlite"):
            call_command("flush", "--no-input", verbosity=0)


def point_mailers_at(port: int, *, concurrency: int, letter: Letter = CYRILLIC) -> None:
    from django.conf import settings

    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 30},
        }
    }
    settings.DEFAULT_FROM_EMAIL = letter.sender
    settings.EMAIL_CONCURRENCY = concurrency


def make_mailing(count: int, letter: Letter = CYRILLIC):
    """A mailing of `letter` to `count` new clients of a new user (created in batches)."""
    from django.utils import timezone

    from core.models import Client, Mailing, Message, User

    owner = User.objects.create_user(email=f"bench-{time.monotonic_ns()}@example.com")
    message = Message.objects.create(owner=owner, subject=letter.subject, body=letter.body)
    now = timezone.now()
    mailing = Mailing.objects.create(
        owner=owner,
        message=message,
        start_at=now,
        end_at=now + timezone.timedelta(days=1),
    )
    through = Mailing.clients.through
    for start in range(0, count, 5000):
        clients = Client.objects.bulk_create(
            Client(
                owner=owner,
                email=f"client{n}@example.com",
                full_name=letter.client_name.format(n=n),
            )
            for n in range(start, min(count, start + 5000))
        )
        through.objects.bulk_create(
            through(mailing_id=mailing.pk, client_id=client.pk) for client in clients
        )
    return mailing


def run_engine(mailing) -> float:
    """Seconds for one run of the mailing by the engine, ledger writes included."""
    from core.services import sending

    started = time.perf_counter()
    report = sending.mailing_send_now(mailing=mailing)
    elapsed = time.perf_counter() - started
    assert report.accepted == mailing.clients.count(), report
    return elapsed


def run_django(count: int, letter: Letter = CYRILLIC) -> float:
    """Seconds for Django's own backend to send the same personalised letters, each with its
    unsubscribe link and headers, over one connection."""
    from django.core.mail import EmailMessage, mailers

    from core.services.sending.personalisation import parse, recipient_values
    from core.services.suppression import unsubscribe_url

    started = time.perf_counter()
    subject, body = parse(letter.subject), parse(letter.body)
    letters = []
    for n in range(count):
        url = unsubscribe_url(client_id=n + 1)
        values = recipient_values(
            full_name=letter.client_name.format(n=n),
            email=f"client{n}@example.com",
            unsubscribe_url=url,
        )
        letters.append(
            EmailMessage(
                subject=subject.render(values),
                body=body.render(values),
                from_email=letter.sender,
                to=[letter.recipient(n)],
                headers={
                    "List-Unsubscribe": f"<{url}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                },
            )
        )
    # mailers["default"] is Django 6.1's get_connection() (deprecated, with the same backend).
    connection = mailers["default"]
    sent = connection.send_messages(letters)
    elapsed = time.perf_counter() - started
    assert sent == count
    return elapsed


def prebuilt_letters(count: int, letter: Letter, *, port: int) -> tuple[str, list[tuple]]:
    """The engine's own letters to `count` recipients, rendered beforehand for what the sink
    offers (8BITMIME, SMTPUTF8): the envelope sender and (recipient, bytes, MAIL options)."""
    from core.services.sending.identity import sender_identity_of
    from core.services.sending.letters import Letter as EngineLetter

    probe = smtplib.SMTP("127.0.0.1", port, timeout=30)
    probe.ehlo()
    eight_bit, smtputf8 = probe.has_extn("8bitmime"), probe.has_extn("smtputf8")
    probe.quit()
    mailing = make_mailing(1, letter)
    identity = sender_identity_of(user_id=mailing.owner_id)
    built = EngineLetter.of_message(message=mailing.message, identity=identity)
    letters = []
    for n in range(count):
        email, name = f"client{n}@example.com", letter.client_name.format(n=n)
        values = built.recipient_values(client_id=n + 1, email=email, name=name)
        rendered = built.render(
            email=email,
            name=name,
            values=values,
            delivery_id=n,
            eight_bit=eight_bit,
            smtputf8=smtputf8,
        )
        options = ["BODY=8BITMIME"] if eight_bit else []
        letters.append((rendered.recipient, rendered.content, options))
    return identity.envelope_sender, letters


def run_ceiling(sender: str, letters: list[tuple], *, port: int) -> float:
    """Seconds for plain smtplib to send prebuilt letters over one connection: no rendering,
    no database, one sendmail() (MAIL, RCPT, DATA, end of data) per letter. What the
    transport alone allows on this machine, to this sink."""
    started = time.perf_counter()
    smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
    for recipient, content, options in letters:
        smtp.sendmail(sender, [recipient], content, mail_options=options)
    smtp.quit()
    return time.perf_counter() - started


def compare_with_ceiling(*, letter: Letter, count: int, rounds: int, port: int) -> list[float]:
    """Interleaved rounds of the engine and the transport ceiling (the same letters prebuilt
    and sent with plain smtplib) on one connection; returns the engine/ceiling ratios."""
    point_mailers_at(port, concurrency=1, letter=letter)
    sender, letters = prebuilt_letters(count, letter, port=port)  # not timed
    run_ceiling(sender, letters[:50], port=port)  # warm-up
    run_engine(make_mailing(50, letter))
    engine_rates, ceiling_rates = [], []
    for _ in range(rounds):
        mailing = make_mailing(count, letter)  # not timed: the clients of this round
        engine_rates.append(count / run_engine(mailing))
        ceiling_rates.append(count / run_ceiling(sender, letters, port=port))
    ratios = [engine / top for engine, top in zip(engine_rates, ceiling_rates, strict=True)]
    print(f"   {letter.label} letter, {rounds} rounds of N={count:,} each; median (min-max):")
    print(f"      ceiling, prebuilt bytes:  {spread(ceiling_rates)} messages/s")
    print(f"      engine, ledger included:  {spread(engine_rates)} messages/s")
    print(f"      ratio engine / ceiling:   {spread(ratios, digits=2)}   (target >= 0.7)")
    return ratios


# --- DKIM, and what rendering and signing cost per letter ---------------------------------


def dkim_key_file() -> Path | None:
    """A throwaway RSA-2048 key under var/ (made with openssl), or None without openssl."""
    path = BASE_DIR / "var" / "bench-dkim-rsa.pem"
    if not path.exists():
        try:
            pem = subprocess.run(
                ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
                capture_output=True,
                check=True,
            ).stdout
        except (OSError, subprocess.CalledProcessError):
            return None
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(pem)
    return path


def dkim_settings(key_file: Path | None) -> None:
    """Sign every letter with `key_file` from now on; None: stop signing."""
    from django.conf import settings

    settings.DKIM_DOMAIN = "example.com" if key_file else ""
    settings.DKIM_SELECTOR = "bench" if key_file else ""
    settings.DKIM_PRIVATE_KEY_FILE = str(key_file) if key_file else ""


def letter_costs(count: int, letter: Letter = CYRILLIC) -> dict[str, float]:
    """Microseconds per letter to personalise and render it (no SMTP), and to sign it."""
    from core.services.sending.dkim import dkim_signer
    from core.services.sending.identity import sender_identity_of
    from core.services.sending.letters import Letter as EngineLetter

    mailing = make_mailing(1, letter)
    identity = sender_identity_of(user_id=mailing.owner_id)
    built = EngineLetter.of_message(message=mailing.message, identity=identity)
    signer = dkim_signer()

    def render(n: int) -> bytes:
        email, name = f"client{n}@example.com", letter.client_name.format(n=n)
        values = built.recipient_values(client_id=n + 1, email=email, name=name)
        return built.render(
            email=email, name=name, values=values, delivery_id=n, eight_bit=True, smtputf8=False
        ).content

    started = time.perf_counter()
    rendered = [render(n) for n in range(count)]
    costs = {"render_us": (time.perf_counter() - started) / count * 1e6}
    costs["letter_bytes"] = sum(map(len, rendered)) / count
    if signer is not None:
        started = time.perf_counter()
        for content in rendered:
            signer.sign(content)
        costs["sign_us"] = (time.perf_counter() - started) / count * 1e6
    return costs


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike getrusage, not inherited from the
    parent across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def memory_child(mailing_id: int) -> dict:
    """In a fresh process: peak memory of one run of a mailing the parent created."""
    setup_django(fresh=False)
    from core.models import Mailing

    with Sink() as sink:
        point_mailers_at(sink.port, concurrency=4)
        run_engine(make_mailing(10))  # warm-up: translations, query compilation, imports
        mailing = Mailing.objects.get(pk=mailing_id)
        rss_before = peak_rss_mib()
        tracemalloc.start()
        run_engine(mailing)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return {"peak_mib": peak / 2**20, "rss_before_mib": rss_before, "max_rss_mib": peak_rss_mib()}


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min, {os.cpu_count()} CPUs)"


def spread(values: list[float], *, digits: int = 0) -> str:
    """`median (min-max)` of the rounds' figures."""
    median, low, high = statistics.median(values), min(values), max(values)
    return f"{median:8.{digits}f}   ({low:.{digits}f}-{high:.{digits}f})"


def compare_with_django(
    *, letter: Letter, count: int, rounds: int, port: int, signed: bool = False
) -> list[float]:
    """Interleaved rounds of the engine and Django on `letter`; returns the engine/Django ratios.

    Each round runs the engine, then Django, over one connection to the same sink, N letters
    each; a change in the machine's load between rounds hits both senders alike.
    """
    point_mailers_at(port, concurrency=1, letter=letter)
    run_django(50, letter)  # warm-up: imports, the DNS name, the first connection
    run_engine(make_mailing(50, letter))
    engine_rates, django_rates = [], []
    for _ in range(rounds):
        mailing = make_mailing(count, letter)  # not timed: the clients of this round
        engine_rates.append(count / run_engine(mailing))
        django_rates.append(count / run_django(count, letter))
    ratios = [engine / django for engine, django in zip(engine_rates, django_rates, strict=True)]
    label = f"{letter.label}, DKIM-signed (RSA-2048)" if signed else letter.label
    print(f"   {label} letter, {rounds} rounds of N={count:,} each; median (min-max):")
    print(f"      Django send_messages():   {spread(django_rates)} messages/s")
    print(f"      engine, ledger included:  {spread(engine_rates)} messages/s")
    if signed:  # Django signs nothing: the engine pays for its signatures alone
        print(f"      ratio signed engine / Django: {spread(ratios, digits=2)}   (target >= 1)")
    else:
        print(f"      ratio engine / Django:    {spread(ratios, digits=2)}   (target >= 2)")
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="recipients of each speed run")
    parser.add_argument("--rounds", type=int, default=7, help="engine/Django rounds per letter")
    parser.add_argument("--slow-n", type=int, default=800, help="recipients of the 20 ms runs")
    parser.add_argument("--memory", type=int, nargs=2, default=[1000, 50000])
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: tiny N, 2 rounds; figures measure nothing"
    )
    parser.add_argument(
        "--ceiling-only", action="store_true", help="only the engine/transport-ceiling rounds"
    )
    parser.add_argument(
        "--no-pipelining", action="store_true", help="a sink that does not offer PIPELINING"
    )
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)  # a mailing id
    args = parser.parse_args()
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child)))
        return
    if args.quick:
        args.n, args.rounds, args.slow_n, args.memory = 40, 2, 16, [50, 100]

    setup_django(fresh=True)
    database = os.environ["DATABASE_URL"].split("://")[0]
    print(f"database: {database}, python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(f"load average at the start: {load_average()}")
    if args.quick:
        print("quick smoke run: tiny N, two rounds; the figures measure nothing")

    ceiling_heading = (
        "\n1b. The engine against the transport ceiling: the same letters prebuilt in memory"
        " and sent with plain smtplib, one connection to a sink that answers at once"
    )
    if args.ceiling_only:
        print(ceiling_heading + (", without PIPELINING" if args.no_pipelining else ""))
        with Sink(pipelining=not args.no_pipelining) as sink:
            compare_with_ceiling(letter=CYRILLIC, count=args.n, rounds=args.rounds, port=sink.port)
        print(f"\nload average at the end: {load_average()}")
        return

    print("\n1. The engine against Django, one connection to a sink that answers at once")
    with Sink() as sink:
        for letter in (CYRILLIC, ASCII):
            compare_with_django(letter=letter, count=args.n, rounds=args.rounds, port=sink.port)
        # The same personalised letters signed with DKIM (RSA-2048), and the cost per letter.
        key_file = dkim_key_file()
        if key_file is None:
            print("   (openssl not found: no DKIM key, the signed figures are left out)")
        dkim_settings(key_file)
        if key_file is not None:
            compare_with_django(
                letter=CYRILLIC, count=args.n, rounds=args.rounds, port=sink.port, signed=True
            )
        costs = letter_costs(min(args.n * 2, 2000))
        dkim_settings(None)
        print(ceiling_heading)
        compare_with_ceiling(letter=CYRILLIC, count=args.n, rounds=args.rounds, port=sink.port)
    signing = f", DKIM signing {costs['sign_us']:.0f} us" if "sign_us" in costs else ""
    print(
        f"   per Cyrillic letter ({costs['letter_bytes']:,.0f} bytes): "
        f"personalising and rendering {costs['render_us']:.0f} us{signing}"
    )

    print(f"\n2. A sink that waits 20 ms before accepting each message, N={args.slow_n:,}")
    rates = {}
    with Sink(delay=0.02) as sink:
        for connections in (1, 2, 4, 8):
            point_mailers_at(sink.port, concurrency=connections)
            rates[connections] = args.slow_n / run_engine(make_mailing(args.slow_n))
            print(
                f"   {connections} connection(s):  {rates[connections]:8.0f} messages/s"
                f"   x{rates[connections] / rates[1]:.2f}"
            )
    print(f"   ratio 8 / 1 connections:       {rates[8] / rates[1]:8.2f}   (target >= 6)")

    print("\n3. The sender's peak memory during a run (4 connections; a fresh process each)")
    figures = []
    for count in args.memory:
        mailing = make_mailing(count)
        output = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(mailing.pk)],
            capture_output=True,
            text=True,
        )
        if output.returncode:
            raise SystemExit(f"the memory run of N={count:,} failed:\n{output.stderr}")
        output = output.stdout
        figures.append(json.loads(output.strip().splitlines()[-1]))
        print(
            f"   N={count:>7,}: Python heap peak {figures[-1]['peak_mib']:5.2f} MiB,"
            f" process max RSS {figures[-1]['rss_before_mib']:5.1f} MiB before the run,"
            f" {figures[-1]['max_rss_mib']:5.1f} MiB after"
        )
    growth = figures[1]["peak_mib"] / figures[0]["peak_mib"]
    sizes = f"N={args.memory[1]:,} / N={args.memory[0]:,}"
    print(f"   heap peak ratio {sizes}: {growth:.2f}   (target ~1: no growth with N)")
    print(f"\nload average at the end: {load_average()}")


if __name__ == "__main__":
    main()
