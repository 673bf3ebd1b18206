"""Daily tasks: today's tasks of a member with done / not done (campaigns.selectors)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from campaigns.models import DailyTask
from campaigns.selectors import member_tasks_today

from ..base import ApiGenericView
from ..schema import api_doc
from ..serializers import MemberRefField, validated
from .members import member_for


class TaskQuerySerializer(serializers.Serializer):
    member = MemberRefField()


class TaskSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Sent as data.task with a task_completed event.")
    name = serializers.CharField()
    description = serializers.CharField()
    done = serializers.BooleanField(help_text="Completed by the member today (program time zone).")
    done_at = serializers.DateTimeField(allow_null=True, help_text="When, if done.")


class TaskListView(ApiGenericView):
    serializer_class = TaskSerializer
    queryset = DailyTask.objects.none()  # for the schema generator; rows come from campaigns.selectors

    @api_doc(
        summary="Today's daily tasks of a member, done or not",
        description="The program's active daily tasks for today in the program's time zone; `done` when "
        "the member sent a `task_completed` event naming the task today.",
        responses={200: TaskSerializer(many=True)},
        errors=(400, 404),
        parameters=[
            OpenApiParameter("member", int, OpenApiParameter.QUERY, required=True, description="Member id.")
        ],
    )
    def get(self, request):
        query = validated(TaskQuerySerializer, request.query_params)
        member = member_for(self, query["member"])
        page = self.paginate_queryset(member_tasks_today(member=member, at=self.at))
        return self.get_paginated_response(TaskSerializer(page, many=True).data)
