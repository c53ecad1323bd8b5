"""The words of our own pages in English and Korean, and how a request picks language and theme.

The browser keeps its choices in localStorage and in two plain cookies (``webui_lang``,
``webui_theme``) so the server can render the page in them from the first byte.
"""

from __future__ import annotations

LANG_COOKIE = "webui_lang"
THEME_COOKIE = "webui_theme"
LANGUAGES = ("en", "ko")
THEMES = ("light", "dark")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "app_name": "Backend.AI",
        "login_title": "Log in",
        "username": "Email or username",
        "password": "Password",
        "login_button": "Log in",
        "logout_button": "Log out",
        "home": "Home",
        "console": "API console",
        "theme_toggle": "Switch theme",
        "language": "Language",
        "error_wrong_password": "Wrong email or password.",
        "error_blocked": "Too many failed attempts. Try again in {minutes} minute(s).",
        "error_manager_unreachable": "The Backend.AI Manager cannot be reached. Try again later.",
        "error_service_down": "The login service is unavailable. Try again later.",
        "error_missing_fields": "Enter your email and password.",
        "error_login_failed": "Login failed: {reason}",
        "error_cross_site": "This form was sent from another site and was refused.",
        "reason_expired": "Your session has expired. Please log in again.",
        "reason_logged_out": "You have logged out.",
        "reason_login_required": "Please log in to continue.",
        "welcome": "Signed in",
        "user": "User",
        "role": "Role",
        "access_key": "Access key",
        "status": "Status",
        "session_expires": "Session expires in",
        "session_expired": "Session expired",
        "extend_session": "Extend session",
        "session_extended": "Session extended.",
        "extend_failed": "The session could not be extended.",
        "console_intro": "Send a GET request to the Manager API through your session.",
        "console_path": "Path under /func/",
        "console_send": "Send GET",
        "console_status": "Status",
        "console_body": "Response",
        "console_sending": "Sending…",
        "console_network_error": "The request did not reach the server.",
        "error_title_403": "Forbidden",
        "error_title_404": "Page not found",
        "error_title_405": "Method not allowed",
        "error_title_421": "Wrong address",
        "error_title_500": "Something went wrong",
        "error_title_502": "The Manager cannot be reached",
        "error_title_503": "Service unavailable",
        "error_title_other": "Request failed",
        "error_text_403": "You are not allowed to open this page.",
        "error_text_404": "There is nothing at this address.",
        "error_text_421": "This server does not answer under the address you used. Open it by its published address.",
        "error_text_5xx": "The server could not answer this request. Try again in a moment.",
        "error_text_other": "The request could not be served.",
        "back_home": "Go to the home page",
        "days_short": "d",
        "webapi_title": "Web API Groups",
        "webapi_intro": "Signer agents by group, with their state and the deployments each group serves.",
        "webapi_add_group": "Add group",
        "webapi_groups_tab": "Groups",
        "webapi_unknown_tab": "Unknown",
        "webapi_group_name": "Group name",
        "webapi_permissions": "Permissions",
        "webapi_permissions_help": "Subject: * (every user), role:<role> or user:<email>.",
        "webapi_subject": "Subject",
        "webapi_action_read": "Read",
        "webapi_action_create": "Create",
        "webapi_action_delete": "Delete",
        "webapi_action_update": "Update",
        "webapi_action_recreate": "Recreate",
        "webapi_add_permission": "Add permission",
        "webapi_create": "Create",
        "webapi_cancel": "Cancel",
        "webapi_ok": "OK",
        "webapi_reminder_title": "Start agents for the new group",
        "webapi_reminder_text": "Agents join a group by its name. Start signer agents with:",
        "webapi_shutdown_title": "Shut down agent?",
        "webapi_shutdown_text": "The agent exits and its supervisor restarts it:",
        "webapi_shutdown": "Shutdown",
        "webapi_state_UP": "Up",
        "webapi_state_DOWN": "Down",
        "webapi_state_OUT_OF_SERVICE": "Out Of Service",
        "webapi_state_STARTING": "Starting",
        "webapi_state_UNKNOWN": "Unknown",
        "webapi_agents": "Agents",
        "webapi_deployments": "Deployments",
        "webapi_serving": "Serving",
        "webapi_no_agents": "No agents have joined this group yet.",
        "webapi_no_deployments": "No deployments.",
        "webapi_no_unknown": "No agents in unknown groups.",
        "webapi_updated": "Updated",
        "webapi_distributing": "Distributing deployments…",
        "webapi_load_failed": "The overview could not be loaded.",
    },
    "ko": {
        "app_name": "Backend.AI",
        "login_title": "로그인",
        "username": "이메일 또는 사용자 이름",
        "password": "비밀번호",
        "login_button": "로그인",
        "logout_button": "로그아웃",
        "home": "홈",
        "console": "API 콘솔",
        "theme_toggle": "테마 전환",
        "language": "언어",
        "error_wrong_password": "이메일 또는 비밀번호가 올바르지 않습니다.",
        "error_blocked": "로그인 실패가 너무 많습니다. {minutes}분 후에 다시 시도하세요.",
        "error_manager_unreachable": "Backend.AI 매니저에 연결할 수 없습니다. 잠시 후 다시 시도하세요.",
        "error_service_down": "로그인 서비스를 사용할 수 없습니다. 잠시 후 다시 시도하세요.",
        "error_missing_fields": "이메일과 비밀번호를 입력하세요.",
        "error_login_failed": "로그인 실패: {reason}",
        "error_cross_site": "다른 사이트에서 보낸 요청이어서 거부되었습니다.",
        "reason_expired": "세션이 만료되었습니다. 다시 로그인하세요.",
        "reason_logged_out": "로그아웃되었습니다.",
        "reason_login_required": "계속하려면 로그인하세요.",
        "welcome": "로그인됨",
        "user": "사용자",
        "role": "역할",
        "access_key": "액세스 키",
        "status": "상태",
        "session_expires": "세션 만료까지",
        "session_expired": "세션 만료됨",
        "extend_session": "세션 연장",
        "session_extended": "세션이 연장되었습니다.",
        "extend_failed": "세션을 연장하지 못했습니다.",
        "console_intro": "현재 세션으로 매니저 API에 GET 요청을 보냅니다.",
        "console_path": "/func/ 아래 경로",
        "console_send": "GET 보내기",
        "console_status": "상태 코드",
        "console_body": "응답",
        "console_sending": "보내는 중…",
        "console_network_error": "요청이 서버에 닿지 못했습니다.",
        "error_title_403": "접근 거부",
        "error_title_404": "페이지를 찾을 수 없습니다",
        "error_title_405": "허용되지 않는 메서드",
        "error_title_421": "잘못된 주소",
        "error_title_500": "문제가 발생했습니다",
        "error_title_502": "매니저에 연결할 수 없습니다",
        "error_title_503": "서비스를 사용할 수 없습니다",
        "error_title_other": "요청 실패",
        "error_text_403": "이 페이지를 열 권한이 없습니다.",
        "error_text_404": "이 주소에는 아무것도 없습니다.",
        "error_text_421": "이 서버는 사용하신 주소로는 응답하지 않습니다. 공개된 주소로 접속하세요.",
        "error_text_5xx": "서버가 요청에 응답하지 못했습니다. 잠시 후 다시 시도하세요.",
        "error_text_other": "요청을 처리할 수 없습니다.",
        "back_home": "홈으로 가기",
        "days_short": "일",
        "webapi_title": "Web API 그룹",
        "webapi_intro": "그룹별 서명 에이전트와 상태, 각 그룹이 제공하는 배포를 보여 줍니다.",
        "webapi_add_group": "그룹 추가",
        "webapi_groups_tab": "그룹",
        "webapi_unknown_tab": "알 수 없음",
        "webapi_group_name": "그룹 이름",
        "webapi_permissions": "권한",
        "webapi_permissions_help": "대상: * (모든 사용자), role:<역할> 또는 user:<이메일>.",
        "webapi_subject": "대상",
        "webapi_action_read": "읽기",
        "webapi_action_create": "생성",
        "webapi_action_delete": "삭제",
        "webapi_action_update": "수정",
        "webapi_action_recreate": "재배포",
        "webapi_add_permission": "권한 추가",
        "webapi_create": "만들기",
        "webapi_cancel": "취소",
        "webapi_ok": "확인",
        "webapi_reminder_title": "새 그룹의 에이전트를 시작하세요",
        "webapi_reminder_text": "에이전트는 그룹 이름으로 그룹에 참여합니다. 다음과 같이 서명 에이전트를 시작하세요:",
        "webapi_shutdown_title": "에이전트를 종료할까요?",
        "webapi_shutdown_text": "에이전트가 종료되고 감독 프로그램이 다시 시작합니다:",
        "webapi_shutdown": "종료",
        "webapi_state_UP": "정상",
        "webapi_state_DOWN": "중단",
        "webapi_state_OUT_OF_SERVICE": "서비스 중지",
        "webapi_state_STARTING": "시작 중",
        "webapi_state_UNKNOWN": "알 수 없음",
        "webapi_agents": "에이전트",
        "webapi_deployments": "배포",
        "webapi_serving": "제공 중",
        "webapi_no_agents": "아직 이 그룹에 참여한 에이전트가 없습니다.",
        "webapi_no_deployments": "배포가 없습니다.",
        "webapi_no_unknown": "알 수 없는 그룹의 에이전트가 없습니다.",
        "webapi_updated": "갱신",
        "webapi_distributing": "배포를 전파하는 중…",
        "webapi_load_failed": "개요를 불러오지 못했습니다.",
    },
}

# Strings the page scripts need (countdown, console, extend button), handed over as JSON.
SCRIPT_KEYS = (
    "session_expired",
    "session_extended",
    "extend_failed",
    "console_sending",
    "console_network_error",
    "days_short",
    "webapi_state_UP",
    "webapi_state_DOWN",
    "webapi_state_OUT_OF_SERVICE",
    "webapi_state_STARTING",
    "webapi_state_UNKNOWN",
    "webapi_agents",
    "webapi_deployments",
    "webapi_serving",
    "webapi_no_agents",
    "webapi_no_deployments",
    "webapi_no_unknown",
    "webapi_updated",
    "webapi_distributing",
    "webapi_load_failed",
    "webapi_shutdown",
)


def choose_language(cookie: str | None, accept_language: str | None) -> str:
    """The cookie's choice if valid, else the first supported language the browser asks for."""
    if cookie in LANGUAGES:
        return cookie
    ranked = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else LANGUAGES[0]


def choose_theme(cookie: str | None) -> str:
    """``light`` or ``dark`` as chosen; ``auto`` (follow the system) when nothing valid was chosen."""
    return cookie if cookie in THEMES else "auto"


def translator(language: str):
    table = TEXT.get(language, TEXT["en"])

    def translate(key: str, **values: object) -> str:
        text = table.get(key) or TEXT["en"][key]
        return text.format(**values) if values else text

    return translate


def script_text(language: str) -> dict[str, str]:
    translate = translator(language)
    return {key: translate(key) for key in SCRIPT_KEYS}
