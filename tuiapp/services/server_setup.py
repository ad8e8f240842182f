"""``tuiapp server setup``: put the association's server in place, as root, step by step, idempotent.

Each step looks first and changes only what differs; it reports what it did
(or that it was already in place). A step that fails raises ``SetupError``
naming the step. Nothing here is undone on a failure: every step can be run
again.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tuiapp.domain.db_target import PostgresTarget, parse_target
from tuiapp.domain.errors import TuiappError
from tuiapp.system_config import group_name, user_name

DATA_DIR_MODE = 0o2770  # setgid: every file made inside belongs to the operators' group
DATABASE_MODE = 0o660
SECRET_DIR_MODE = 0o700
CONFIG_MODE = 0o640
UNIT_NAME = "tuiapp-sender.service"


class SetupError(TuiappError):
    def __init__(self, step: str, why: str) -> None:
        self.step = step
        super().__init__(f"Étape « {step} » impossible : {why}")


@dataclass(frozen=True)
class Plan:
    group: str = "tuiapp"
    admin_group: str = "tuiapp-admin"
    service_user: str = "tuiapp"
    data_dir: Path = Path("/srv/tuiapp")
    print_dir: Path | None = None  # DIR/impressions
    config: Path = Path("/etc/tuiapp/tuiapp.toml")
    unit_dir: Path = Path("/etc/systemd/system")
    systemd: bool = True
    #: A PostgreSQL base (``postgresql://USER@HOST/BASE``, as given: its options kept) rather than
    #: the SQLite file in ``data_dir``; checked by ``parse_target`` before the plan is made.
    database_url: str | None = None

    @property
    def database(self) -> Path | PostgresTarget:
        if self.database_url is not None:
            target = parse_target(self.database_url)
            assert isinstance(target, PostgresTarget)
            return target
        return self.data_dir / "tuiapp.db"

    @property
    def service_pgpass(self) -> Path:
        """The sender service's password for a PostgreSQL base (libpq's pgpass format)."""
        return self.secret_dir / "pgpass"

    @property
    def service_data(self) -> Path:
        """The sender service's own data folder ($XDG_DATA_HOME): its send journal for a
        PostgreSQL base, whatever its account's home (read-only under ProtectSystem=strict)."""
        return self.data_dir / "service"

    @property
    def secret_dir(self) -> Path:
        return self.data_dir / "secret"

    @property
    def prints(self) -> Path:
        return self.print_dir or self.data_dir / "impressions"


Report = Callable[[str], None]


def setup(plan: Plan, report: Report, *, tuiapp_command: list[str] | None = None) -> None:
    if os.getuid() != 0:
        raise SetupError("droits", "à lancer en root : sudo tuiapp server setup")
    for name in (plan.group, plan.admin_group):
        _group(name, report)
    _service_account(plan, report)
    gid = grp.getgrnam(plan.group).gr_gid
    service = pwd.getpwnam(plan.service_user)
    _folder(plan.data_dir, 0, gid, DATA_DIR_MODE, "dossier des données", report)
    _folder(plan.prints, 0, gid, DATA_DIR_MODE, "dossier des impressions", report)
    _folder(plan.secret_dir, service.pw_uid, service.pw_gid, SECRET_DIR_MODE, "dossier du secret", report)
    if plan.database_url:
        _folder(plan.service_data, service.pw_uid, service.pw_gid, SECRET_DIR_MODE, "dossier du journal d'envoi",
                report)
    _database(plan, service.pw_uid, gid, report)
    _config(plan, gid, report)
    command = tuiapp_command or tuiapp_executable()
    _unit(plan, command, report)
    _start(plan, report)


def tuiapp_executable() -> list[str]:
    """The absolute command of this very tuiapp (the one running setup)."""
    script = Path(sys.executable).parent / "tuiapp"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "tuiapp"]


def _run(step: str, argv: list[str]) -> None:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SetupError(step, f"{argv[0]} : {exc}") from None
    if result.returncode != 0:
        raise SetupError(step, f"{' '.join(argv)} : {result.stderr.strip() or result.returncode}")


def _group(name: str, report: Report) -> None:
    try:
        grp.getgrnam(name)
        report(f"déjà en place : groupe {name}")
    except KeyError:
        _run(f"groupe {name}", ["groupadd", "--system", name])
        report(f"créé : groupe {name}")


def _service_account(plan: Plan, report: Report) -> None:
    step = f"compte du service {plan.service_user}"
    try:
        account = pwd.getpwnam(plan.service_user)
    except KeyError:
        shell = "/usr/sbin/nologin" if Path("/usr/sbin/nologin").exists() else "/bin/false"
        _run(step, ["useradd", "--system", "--gid", plan.group, "--home-dir", str(plan.data_dir),
                    "--no-create-home", "--shell", shell, plan.service_user])
        report(f"créé : compte système {plan.service_user} (sans connexion), groupe {plan.group}")
        return
    groups = {g.gr_name for g in grp.getgrall() if plan.service_user in g.gr_mem}
    if account.pw_gid != grp.getgrnam(plan.group).gr_gid and plan.group not in groups:
        _run(step, ["usermod", "--append", "--groups", plan.group, plan.service_user])
        report(f"modifié : {plan.service_user} ajouté au groupe {plan.group}")
    else:
        report(f"déjà en place : compte système {plan.service_user}")


def _fix(path: Path, uid: int, gid: int, mode: int) -> bool:
    """Owner and mode as asked; True if something changed."""
    info = path.lstat()
    changed = False
    if (info.st_uid, info.st_gid) != (uid, gid):
        os.chown(path, uid, gid, follow_symlinks=False)
        changed = True
    if stat.S_IMODE(info.st_mode) != mode:
        os.chmod(path, mode)
        changed = True
    return changed


def _folder(path: Path, uid: int, gid: int, mode: int, what: str, report: Report) -> None:
    try:
        if path.is_symlink():
            raise SetupError(what, f"{path} est un lien symbolique : indiquez le vrai dossier.")
        created = not path.exists()
        path.mkdir(parents=True, exist_ok=True)
        changed = _fix(path, uid, gid, mode)
    except OSError as exc:
        raise SetupError(what, f"{path} : {exc.strerror}") from None
    owner = f"{user_name(uid)}:{group_name(gid)} {stat.filemode(mode | stat.S_IFDIR)}"
    report(f"{'créé' if created else 'corrigé' if changed else 'déjà en place'} : {what} {path} ({owner})")


def _database(plan: Plan, uid: int, gid: int, report: Report) -> None:
    from tuiapp.db.database import db, open_database

    path = plan.database
    if isinstance(path, PostgresTarget):
        _service_pgpass(plan, uid, gid, report)
        report(f"à vérifier : base PostgreSQL {path} (son administrateur la crée, vide ; le schéma est posé à "
               "la première ouverture ; tuiapp server check la vérifie)")
        return
    created = not path.exists()
    try:
        if created:  # an existing base is left alone (every open brings its schema up to date)
            open_database(path, create=True)
            db.close()
        changed = False
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if file.exists():
                changed |= _fix(file, uid, gid, DATABASE_MODE)
    except OSError as exc:
        raise SetupError("base de données", f"{path} : {exc.strerror}") from None
    report(f"{'créée' if created else 'corrigée' if changed else 'déjà en place'} : base {path} "
           f"({user_name(uid)}:{group_name(gid)} rw-rw----)")


def _service_pgpass(plan: Plan, uid: int, gid: int, report: Report) -> None:
    """The service's pgpass file, made empty if missing (root does not know the password), its
    owner and mode fixed: libpq reads it only when nobody else may (0600)."""
    path = plan.service_pgpass
    step = "mot de passe PostgreSQL du service"
    try:
        # Opened without following a link, then changed through its descriptor: the folder is
        # the service account's, which must not make root change another file.
        created = not os.path.lexists(path)
        flags = os.O_RDONLY | os.O_NOFOLLOW | (os.O_CREAT | os.O_EXCL if created else 0)
        descriptor = os.open(path, flags, 0o600)
        try:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode):
                raise SetupError(step, f"{path} n'est pas un fichier ordinaire.")
            changed = (info.st_uid, info.st_gid) != (uid, gid) or stat.S_IMODE(info.st_mode) != 0o600
            os.fchown(descriptor, uid, gid)
            os.fchmod(descriptor, 0o600)
        finally:
            os.close(descriptor)
    except OSError as exc:
        why = "un lien symbolique" if exc.errno == errno.ELOOP else exc.strerror
        raise SetupError(step, f"{path} : {why}") from None
    state = "créé (vide)" if created else "corrigé" if changed else "déjà en place"
    report(f"{state} : mot de passe PostgreSQL du service {path} ({user_name(uid)} rw-------)")


def config_text(plan: Plan) -> str:
    return (
        "# tuiapp : configuration du serveur de l'association (écrite par tuiapp server setup).\n"
        "# Appartient à root, droits 0640, groupe des opérateurs. Le serveur d'envoi se règle avec\n"
        "# sudo tuiapp smtp set ..., son mot de passe avec sudo tuiapp smtp password.\n"
        f'database = "{plan.database_url or plan.database}"\n'
        'mode = "service"\n'
        f'admin_group = "{plan.admin_group}"\n'
        f'operator_group = "{plan.group}"\n'
        f'print_dir = "{plan.prints}"\n'
        f'secret_dir = "{plan.secret_dir}"\n'
        f'service_user = "{plan.service_user}"\n'
    )


def _config(plan: Plan, gid: int, report: Report) -> None:
    from tuiapp import system_config

    path = plan.config
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, CONFIG_MODE)
            try:
                os.fchown(descriptor, 0, gid)
                os.fchmod(descriptor, CONFIG_MODE)
                os.write(descriptor, config_text(plan).encode("utf-8"))
            finally:
                os.close(descriptor)
            written = system_config.load({system_config.CONFIG_ENV: str(path)})
            if written is None or written.database != plan.database:
                raise SetupError("configuration", f"{path} ne se relit pas comme écrite : vérifiez-la.")
            report(f"créée : configuration {path} (root:{plan.group} rw-r-----)")
            return
        changed = _fix(path, 0, gid, CONFIG_MODE)
    except OSError as exc:
        raise SetupError("configuration", f"{path} : {exc.strerror}") from None
    config = system_config.load({system_config.CONFIG_ENV: str(path)})
    if config is not None and config.database != plan.database:
        raise SetupError("configuration", f"{path} nomme une autre base ({config.database}) que {plan.database} : "
                                          "corrigez-la, ou indiquez --dir (ou --db) en accord.")
    report(f"{'corrigée' if changed else 'déjà en place'} : configuration {path} (gardée telle quelle)")


def unit_text(plan: Plan, command: list[str]) -> str:
    exec_start = " ".join([*command, "sender", "--config", str(plan.config)])
    # a PostgreSQL base: libpq reads the service's password from its own folder
    pgpass = (f'Environment="PGPASSFILE={plan.service_pgpass}"\n'
              f'Environment="XDG_DATA_HOME={plan.service_data}"\n') if plan.database_url else ""
    return (
        "[Unit]\n"
        "Description=tuiapp : service d'envoi des factures par courriel\n"
        "After=network-online.target\n"
        "Wants=network-online.target\n\n"
        "[Service]\n"
        "Type=simple\n"
        f"User={plan.service_user}\n"
        f"Group={plan.group}\n"
        f"ExecStart={exec_start}\n"
        f"{pgpass}"
        "Restart=on-failure\n"
        "RestartSec=10\n"
        "UMask=0007\n"
        "NoNewPrivileges=true\n"
        "ProtectSystem=strict\n"
        f"ReadWritePaths={plan.data_dir}\n"
        "PrivateTmp=true\n\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def _unit(plan: Plan, command: list[str], report: Report) -> None:
    path = plan.unit_dir / UNIT_NAME
    text = unit_text(plan, command)
    try:
        if path.exists() and path.read_text(encoding="utf-8") == text:
            report(f"déjà en place : unité systemd {path}")
            return
        existed = path.exists()
        plan.unit_dir.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as exc:
        raise SetupError("unité systemd", f"{path} : {exc.strerror}") from None
    report(f"{'mise à jour' if existed else 'créée'} : unité systemd {path}")


def systemd_runs() -> bool:
    return Path("/run/systemd/system").is_dir()


def _start(plan: Plan, report: Report) -> None:
    if not plan.systemd or not systemd_runs():
        report(f"non démarré : systemd absent ou --no-systemd ; démarrez le service à la main : "
               f"tuiapp sender --config {plan.config} (sous le compte {plan.service_user})")
        return
    _run("systemd", ["systemctl", "daemon-reload"])
    _run("systemd", ["systemctl", "enable", "--now", UNIT_NAME])
    report(f"démarré : {UNIT_NAME} (systemctl status {UNIT_NAME})")


def _pgpass_field(text: str) -> str:
    """A field of a pgpass line: ``:`` and ``\\`` escaped with a backslash, as libpq reads them."""
    return text.replace("\\", "\\\\").replace(":", "\\:")


def next_steps(plan: Plan, command: list[str]) -> list[str]:
    # a configuration elsewhere than /etc/tuiapp: every command must be told where it is
    env = "" if plan.config == Plan().config else f"env TUIAPP_CONFIG={plan.config} "
    steps = [
        f"Ajoutez chaque membre du service facturation au groupe : sudo usermod -aG {plan.group} LOGIN "
        f"(et au groupe {plan.admin_group} pour qui règle l'association et les structures).",
        f"Réglez le serveur d'envoi : sudo {env}tuiapp smtp set --host smtp.office365.com --port 587 "
        "--security starttls --username facturation@association.fr --rate 30",
        f"Enregistrez son mot de passe pour le service : sudo {env}tuiapp smtp password",
        f"Vérifiez : {env}tuiapp server check",
    ]
    if plan.database_url:
        target = plan.database
        assert isinstance(target, PostgresTarget)
        host = "localhost" if target.host.startswith("/") else target.host  # (libpq's name for a socket)
        line = ":".join(_pgpass_field(field) for field in (host, str(target.port), target.name, target.user)) + \
            ":MOT-DE-PASSE"
        steps[1:1] = [
            f"Donnez au service le mot de passe PostgreSQL de {target.user} : sudoedit {plan.service_pgpass} "
            f"(une ligne {line}).",
            "Chaque opérateur met la même ligne dans son ~/.pgpass (chmod 600 ~/.pgpass).",
        ]
    link = Path("/usr/local/bin/tuiapp")
    if command and len(command) == 1 and not link.exists():
        steps.insert(0, f"Pour que chacun lance « tuiapp » : sudo ln -s {command[0]} {link}")
    return steps
