"""The bot's own sentences in Spanish: safety replies, hand-over, clarifying.

The English ones live beside the code that uses them and in `intents/*.yaml`.
Written for patients in plain Spanish (usted), not machine-translated; site
staff should have them checked by their interpreter service.
"""

from __future__ import annotations

# The English sentences of an answer, clarify or fallback reply; SPANISH
# below has the same keys.
ENGLISH = {
    "disclaimer": (
        "I'm an automated assistant. I give general information, not medical advice or a "
        "diagnosis, and messages here are not watched in real time. Always follow your own "
        "care team's instructions. In an emergency, call {emergency_number}."),
    "fallback": (
        "I'm sorry, I don't have a good answer to that. I've passed your question to "
        "our staff, and someone will follow up. For anything urgent, call your care "
        "team, and in an emergency call {emergency_number}."),
    "fallback_suggestions": " In the meantime, one of these might help:",
    "clarify": "I want to be sure I answer the right question. Did you mean one of these?",
    "which_procedure": "Which procedure is your question about?",
}

SPANISH = {
    "disclaimer": (
        "Soy un asistente automático. Doy información general, no consejos médicos ni un "
        "diagnóstico, y nadie lee estos mensajes en tiempo real. Siga siempre las "
        "instrucciones de su equipo de atención. En una emergencia, llame al {emergency_number}."),
    "emergency": (
        "Esto puede ser una emergencia. Llame al {emergency_number} ahora, o pida a alguien "
        "que llame por usted. Usted mencionó: {reason}. No espere una respuesta aquí: nadie "
        "lee este chat en tiempo real."),
    "bleeding": (
        " Si sangra por donde entró el catéter, acuéstese y apriete fuerte sobre ese lugar "
        "mientras llega la ayuda."),
    "crisis": (
        " También puede llamar o enviar un mensaje de texto al 988, la Línea de Prevención "
        "del Suicidio y Crisis, a cualquier hora (marque 2 para español). No está solo o "
        "sola; hay ayuda ahora mismo."),
    "urgent": (
        "Por favor, llame ahora a su equipo de atención por esto: {reason}. Necesita hablar "
        "hoy con una persona, no una respuesta de chat.{on_call} Si no logra hablar con "
        "nadie, vaya a atención urgente o a la sala de emergencias. Si se siente muy mal, "
        "llame al {emergency_number}. Nadie lee este chat en tiempo real."),
    "on_call": " Fuera de horario, llame a la línea de guardia: {number}.",
    "on_call_unknown": " Fuera de horario, use el número de guardia de sus papeles de alta.",
    "fallback": (
        "Lo siento, no tengo una buena respuesta para eso. Pasé su pregunta al personal y "
        "alguien le responderá. Para algo urgente, llame a su equipo de atención, y en una "
        "emergencia llame al {emergency_number}."),
    "fallback_suggestions": " Mientras tanto, quizás le ayude alguna de estas:",
    "no_twin": (
        "Todavía no tengo esta respuesta en español. Pasé su pregunta al personal, que le "
        "responderá en español (con intérprete si hace falta). En una emergencia, llame al "
        "{emergency_number}."),
    "clarify": "Quiero asegurarme de contestar bien. ¿Quiso decir una de estas?",
    "which_procedure": "¿Sobre qué procedimiento es su pregunta?",
    "handoff_in_hours": (
        "Le pasé a una persona del equipo (referencia {ticket_id}); le responderá en "
        "{reply_hours}, y puede pedir un intérprete. En una emergencia, llame al "
        "{emergency_number}."),
    "handoff_after_hours": (
        "Le pasé a una persona del equipo (referencia {ticket_id}); ahora estamos fuera de "
        "horario, así que le responderán el próximo día hábil, y puede pedir un intérprete. "
        "Para algo urgente, llame a la línea de guardia{on_call}. En una emergencia, llame "
        "al {emergency_number}."),
    "greeting": ("¡Hola! Puede preguntarme sobre su procedimiento: cómo prepararse, qué "
                 "pasa ese día, la recuperación y las señales de alarma."),
    "thanks": "¡De nada! Si tiene otra pregunta, aquí estoy.",
    "goodbye": "Cuídese mucho. Si tiene más preguntas, vuelva cuando quiera.",
}

REPLY_HOURS_ES = "un día hábil"
